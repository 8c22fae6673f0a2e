package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"billing-api/store"
	"billing-api/store/storetest"
)

var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "billing-api-bin")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "billing-api")
	if out, err := exec.Command("go", "build", "-o", binary, ".").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "building the binary: %v\n%s", err, out)
		os.Exit(1)
	}
	code := storetest.Run(m)
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

// storeEnv points the binary at a fresh database private to t.
func storeEnv(t *testing.T) []string {
	t.Helper()
	env, _ := storeEnvAndConfig(t)
	return env
}

// storeEnvAndConfig is storeEnv with the store's config, for a test that
// also opens the store itself.
func storeEnvAndConfig(t *testing.T) ([]string, store.Config) {
	t.Helper()
	cfg := storetest.Config(t)
	env := []string{"BILLING_LOG_FORMAT=json", "PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}
	if cfg.URL != "" {
		if cfg.DirectURL != "" {
			env = append(env, "BILLING_DATABASE_DIRECT_URL="+cfg.DirectURL)
		}
		return append(env, "DATABASE_URL="+cfg.URL), cfg
	}
	return append(env, "BILLING_SQLITE_PATH="+cfg.SQLitePath), cfg
}

func run(t *testing.T, env []string, args ...string) (string, string, error) {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Env = env
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	return out.String(), errOut.String(), err
}

func mustRun(t *testing.T, env []string, args ...string) string {
	t.Helper()
	out, errOut, err := run(t, env, args...)
	if err != nil {
		t.Fatalf("billing-api %s: %v\n%s%s", strings.Join(args, " "), err, out, errOut)
	}
	return out
}

func TestOperatorCommandsWorkOnTheServersStore(t *testing.T) {
	t.Parallel()
	env := storeEnv(t)
	if out := mustRun(t, env, "migrate"); !strings.Contains(out, "schema version") {
		t.Fatalf("migrate printed %q", out)
	}
	mustRun(t, env, "migrate") // idempotent
	mustRun(t, env, "tenant", "create", "acme", "--display-name", "Acme Corp")
	if _, errOut, err := run(t, env, "tenant", "create", "acme"); err == nil || !strings.Contains(errOut, "already exists") {
		t.Fatalf("duplicate tenant: %v %q", err, errOut)
	}
	mustRun(t, env, "namespace", "create", "--tenant", "acme", "shop")
	if out := mustRun(t, env, "namespace", "list", "--tenant", "acme"); out != "shop\nsystem\n" {
		t.Fatalf("namespaces %q", out)
	}
	secret := strings.TrimSpace(mustRun(t, env, "token", "create", "--tenant", "acme", "--name", "ci", "--role", "viewer", "--namespace", "shop"))
	if !strings.HasPrefix(secret, "bapi_") {
		t.Fatalf("token create printed %q", secret)
	}
	list := mustRun(t, env, "token", "list", "--tenant", "acme")
	if strings.Contains(list, secret) || !strings.Contains(list, "viewer") || !strings.Contains(list, "shop") {
		t.Fatalf("token list %q", list)
	}
	id := strings.Fields(strings.Split(list, "\n")[1])[0]

	// The server sees what the commands wrote, and the revocation.
	base, stop := startServer(t, env)
	defer stop()
	get := func() int {
		req, _ := http.NewRequest(http.MethodGet, base+"/api/web/namespaces/shop/quota/limits", nil)
		req.Header.Set("Authorization", "APIToken "+secret)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	if code := get(); code != http.StatusOK {
		t.Fatalf("token issued by the CLI: %d, want 200", code)
	}
	mustRun(t, env, "token", "revoke", "--tenant", "acme", id)
	// The server is another process: it may serve the token from its cache
	// for at most a second.
	deadline := time.Now().Add(10 * time.Second)
	for get() != http.StatusUnauthorized {
		if time.Now().After(deadline) {
			t.Fatal("the revoked token still works on the server")
		}
		time.Sleep(20 * time.Millisecond) // waiting for a condition, bounded by the deadline
	}
}

func TestBadEnvironmentIsReported(t *testing.T) {
	t.Parallel()
	env := append(storeEnv(t), "BILLING_DB_MAX_OPEN_CONNS=lots")
	if _, errOut, err := run(t, env, "migrate"); err == nil || !strings.Contains(errOut, "BILLING_DB_MAX_OPEN_CONNS") {
		t.Fatalf("bad variable accepted: %v %q", err, errOut)
	}
	env = append(storeEnv(t), "DATABASE_URL=mysql://x")
	if _, errOut, err := run(t, env, "migrate"); err == nil || !strings.Contains(errOut, "postgres://") {
		t.Fatalf("bad DATABASE_URL accepted: %v %q", err, errOut)
	}
}

// startServer runs `serve` on a free port and returns its base URL.
func startServer(t *testing.T, env []string, extra ...string) (string, func()) {
	t.Helper()
	base, cmd, _ := startServerProcess(t, env, extra...)
	return base, func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
	}
}

func startServerProcess(t *testing.T, env []string, extra ...string) (string, *exec.Cmd, *lineReader) {
	base, cmd, logs, _ := startServerWithBanner(t, env, extra...)
	return base, cmd, logs
}

// startServerWithBanner also returns the server's stdout (its banner). The
// server stops without a drain delay unless extra sets one.
func startServerWithBanner(t *testing.T, env []string, extra ...string) (string, *exec.Cmd, *lineReader, *lineReader) {
	t.Helper()
	p := launchServer(t, env, extra...)
	return p.waitServing(t), p.cmd, p.logs, p.banner
}

// serverProcess is a started `serve` with its log (stderr) and banner
// (stdout) being read.
type serverProcess struct {
	cmd          *exec.Cmd
	logs, banner *lineReader
}

// launchServer starts `serve` without waiting for it, so a test can start
// several at once.
func launchServer(t *testing.T, env []string, extra ...string) serverProcess {
	t.Helper()
	args := append([]string{"serve", "--listen", "127.0.0.1:0", "--shutdown-drain-delay", "0"}, extra...)
	cmd := exec.Command(binary, args...)
	cmd.Env = env
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	return serverProcess{cmd: cmd, logs: newLineReader(stderr), banner: newLineReader(stdout)}
}

// waitServing blocks until the banner names the server's base URL.
func (p serverProcess) waitServing(t *testing.T) string {
	t.Helper()
	line, ok := p.banner.waitForPrefix("billing-api serving on ")
	if !ok {
		t.Fatalf("server did not start; logs:\n%s", p.logs.all())
	}
	return strings.Fields(line)[0]
}

// lineReader collects a process's log lines (never blocking the process)
// and lets a test wait for one.
type lineReader struct {
	mu    sync.Mutex
	cond  *sync.Cond
	lines []string
	done  bool
	next  int
}

func newLineReader(r io.Reader) *lineReader {
	lr := &lineReader{}
	lr.cond = sync.NewCond(&lr.mu)
	go func() {
		sc := bufio.NewScanner(r)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			lr.mu.Lock()
			lr.lines = append(lr.lines, sc.Text())
			lr.cond.Broadcast()
			lr.mu.Unlock()
		}
		lr.mu.Lock()
		lr.done = true
		lr.cond.Broadcast()
		lr.mu.Unlock()
	}()
	return lr
}

// waitFor blocks until a JSON log line after the last one matched has
// msg == want; false if the log ends first.
func (lr *lineReader) waitFor(want string) bool {
	lr.mu.Lock()
	defer lr.mu.Unlock()
	for {
		for ; lr.next < len(lr.lines); lr.next++ {
			var rec map[string]any
			if json.Unmarshal([]byte(lr.lines[lr.next]), &rec) == nil && rec["msg"] == want {
				lr.next++
				return true
			}
		}
		if lr.done {
			return false
		}
		lr.cond.Wait()
	}
}

// waitForPrefix blocks until a line starting with prefix arrives and
// returns the rest of it; false if the output ends first.
func (lr *lineReader) waitForPrefix(prefix string) (string, bool) {
	lr.mu.Lock()
	defer lr.mu.Unlock()
	for {
		for ; lr.next < len(lr.lines); lr.next++ {
			if rest, ok := strings.CutPrefix(lr.lines[lr.next], prefix); ok {
				lr.next++
				return rest, true
			}
		}
		if lr.done {
			return "", false
		}
		lr.cond.Wait()
	}
}

// all is what the process has logged so far.
func (lr *lineReader) all() string {
	lr.mu.Lock()
	defer lr.mu.Unlock()
	return strings.Join(lr.lines, "\n")
}
