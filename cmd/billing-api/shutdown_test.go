package main

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os/exec"
	"strings"
	"syscall"
	"testing"
)

// A request in flight when SIGTERM arrives is served to the end, and the
// process then exits cleanly.
func TestSIGTERMLetsInFlightRequestsFinish(t *testing.T) {
	t.Parallel()
	env := append(storeEnv(t), "BILLING_ADMIN_TOKEN=ops")
	base, cmd, logs := startServerProcess(t, env, "--shutdown-drain-delay", "0")
	addr := strings.TrimPrefix(base, "http://")

	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	body := `{"name":"late-tenant","display_name":"Created during shutdown"}`
	// Headers only, asking for 100-continue: the server answers "100
	// Continue" when the request's chain starts reading the body, which
	// proves the request is in flight before the signal is sent.
	fmt.Fprintf(conn, "POST /admin/v1/tenants HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer ops\r\n"+
		"Content-Type: application/json\r\nContent-Length: %d\r\nExpect: 100-continue\r\n\r\n", addr, len(body))
	rd := bufio.NewReader(conn)
	interim, err := http.ReadResponse(rd, nil)
	if err != nil || interim.StatusCode != http.StatusContinue {
		t.Fatalf("want 100 Continue, got %v %v", interim, err)
	}

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if !logs.waitFor("shutting down: draining in-flight requests") {
		t.Fatalf("no shutdown log line:\n%s", logs.all())
	}
	if _, err := conn.Write([]byte(body)); err != nil {
		t.Fatal(err)
	}
	res, err := http.ReadResponse(rd, nil)
	if err != nil {
		t.Fatalf("in-flight request was cut off: %v\n%s", err, logs.all())
	}
	res.Body.Close()
	if res.StatusCode != http.StatusCreated {
		t.Fatalf("in-flight request answered %d", res.StatusCode)
	}
	// Read the log to its end before Wait closes the pipe.
	if !logs.waitFor("stopped") {
		t.Fatalf("no stopped log line:\n%s", logs.all())
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("server exited with %v\n%s", err, logs.all())
	}
	// The tenant created by the drained request is committed.
	if out := mustRun(t, env, "tenant", "list"); !strings.Contains(out, "late-tenant") {
		t.Fatalf("tenant list %q", out)
	}
}

// After SIGTERM only /readyz fails while the drain delay lasts; a second
// signal ends the process at once, whatever is left of the delay.
func TestReadinessFailsFirstAndASecondSignalExitsAtOnce(t *testing.T) {
	t.Parallel()
	for _, second := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT} {
		t.Run(second.String(), func(t *testing.T) {
			env := append(storeEnv(t), "BILLING_ADMIN_TOKEN=ops")
			// The last --shutdown-drain-delay wins over the helper's 0.
			base, cmd, logs := startServerProcess(t, env, "--shutdown-drain-delay", "1h")
			get := func(path string) *http.Response {
				t.Helper()
				req, _ := http.NewRequest(http.MethodGet, base+path, nil)
				req.Header.Set("Authorization", "Bearer ops")
				res, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatalf("GET %s during the drain delay: %v", path, err)
				}
				res.Body.Close()
				return res
			}
			if res := get("/readyz"); res.StatusCode != http.StatusOK {
				t.Fatalf("readyz before SIGTERM: %d", res.StatusCode)
			}
			if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
				t.Fatal(err)
			}
			if !logs.waitFor("shutting down: readiness failing") {
				t.Fatalf("no readiness log line:\n%s", logs.all())
			}
			if res := get("/readyz"); res.StatusCode != http.StatusServiceUnavailable || res.Header.Get("Retry-After") == "" {
				t.Fatalf("readyz while draining: %d %v", res.StatusCode, res.Header)
			}
			for _, path := range []string{"/healthz", "/admin/v1/tenants"} {
				if res := get(path); res.StatusCode != http.StatusOK {
					t.Fatalf("%s while draining: %d", path, res.StatusCode)
				}
			}
			if err := cmd.Process.Signal(second); err != nil {
				t.Fatal(err)
			}
			if !logs.waitFor("second signal: exiting at once") {
				t.Fatalf("no second-signal log line:\n%s", logs.all())
			}
			err := cmd.Wait()
			var exit *exec.ExitError
			if !errors.As(err, &exit) || exit.ExitCode() != 1 {
				t.Fatalf("exit after the second signal: %v, want status 1\n%s", err, logs.all())
			}
			if strings.Contains(logs.all(), `"msg":"stopped"`) {
				t.Fatalf("the process waited for the drain after a second signal:\n%s", logs.all())
			}
		})
	}
}

// The shutdown steps are logged in the order they happen.
func TestShutdownStepsAreLoggedInOrder(t *testing.T) {
	t.Parallel()
	_, cmd, logs := startServerProcess(t, storeEnv(t), "--shutdown-drain-delay", "50ms")
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	// waitFor only looks past the previous match, so this checks the order.
	for _, step := range []string{"shutting down: readiness failing", "shutting down: draining in-flight requests", "stopped"} {
		if !logs.waitFor(step) {
			t.Fatalf("no %q log line after the previous step:\n%s", step, logs.all())
		}
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("server exited with %v\n%s", err, logs.all())
	}
}
