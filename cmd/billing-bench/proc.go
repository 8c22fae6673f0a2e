package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// process is a server the harness started: the billing-api binary or the
// baseline.
type process struct {
	name string
	cmd  *exec.Cmd
	// URL is where it serves, from its banner.
	URL  string
	logs *tail
	// adminToken opens the server's operator endpoints (profiles).
	adminToken string
	done       chan struct{}
	err        error // of Wait, once done is closed
}

// startProcess runs path with args and env and waits (up to timeout) for
// the line starting with banner on its stdout, which names its URL.
func startProcess(name, path string, args, env []string, banner string, timeout time.Duration) (*process, error) {
	cmd := exec.Command(path, args...)
	cmd.Env = env
	configureChild(cmd)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	p := &process{name: name, cmd: cmd, logs: &tail{max: 64 << 10}, done: make(chan struct{})}
	cmd.Stderr = p.logs
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting the %s: %w", name, err)
	}
	urls := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		found := false
		for sc.Scan() {
			if rest, ok := strings.CutPrefix(sc.Text(), banner); ok && !found {
				if f := strings.Fields(rest); len(f) > 0 {
					found = true
					urls <- f[0]
				}
			}
		}
		// Keep reading to the end, so the process never blocks on a full pipe.
		_, _ = io.Copy(io.Discard, stdout)
		p.err = cmd.Wait()
		close(p.done)
	}()
	select {
	case p.URL = <-urls:
		return p, nil
	case <-p.done:
		return nil, fmt.Errorf("the %s exited before serving (%v); its log:\n%s", name, p.err, p.logs)
	case <-time.After(timeout):
		p.Stop()
		return nil, fmt.Errorf("the %s did not print %q within %s; its log:\n%s", name, strings.TrimSpace(banner), timeout, p.logs)
	}
}

// Exited reports an exit before Stop, with the process's log.
func (p *process) Exited() error {
	select {
	case <-p.done:
		return fmt.Errorf("the %s exited during the run (%v); its log:\n%s", p.name, p.err, p.logs)
	default:
		return nil
	}
}

// Stop asks the process to finish (SIGTERM) and kills it if it has not
// within ten seconds.
func (p *process) Stop() {
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

// tail keeps the last max bytes written to it: a process's log, for the
// message when it fails.
type tail struct {
	mu  sync.Mutex
	max int
	buf []byte
}

func (t *tail) Write(b []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, b...)
	if over := len(t.buf) - t.max; over > 0 {
		t.buf = append(t.buf[:0], t.buf[over:]...)
	}
	return len(b), nil
}

func (t *tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.buf) == 0 {
		return "(empty)"
	}
	return string(t.buf)
}

var errNoRSS = errors.New("peak RSS is read from /proc, which this system lacks")

// cpuProfile fetches the server's CPU profile over d into path (the server
// runs with --pprof; the profile is behind the operator token).
func (p *process) cpuProfile(ctx context.Context, d time.Duration, path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	secs := max(int(d/time.Second), 1)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprintf("%s/admin/debug/pprof/profile?seconds=%d", p.URL, secs), nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+p.adminToken)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("profile: %s", res.Status)
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, res.Body); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
