package main

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"strings"
	"syscall"
	"testing"
)

// A request in flight when SIGTERM arrives is served to the end, and the
// process then exits cleanly.
func TestSIGTERMLetsInFlightRequestsFinish(t *testing.T) {
	env := append(storeEnv(t), "BILLING_ADMIN_TOKEN=ops")
	base, cmd, logs := startServerProcess(t, env)
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
