// Package harness starts and ends the processes the project's measuring
// programs run (the benchmark, the fault harness): servers on loopback,
// each ended by its own PID, never by name.
package harness

import (
	"bufio"
	"fmt"
	"io"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Process is a process a harness started: a server, a database, a cache.
type Process struct {
	Name string
	Cmd  *exec.Cmd
	// URL is where it serves, from its banner (empty when started without
	// one).
	URL string
	// Logs is the tail of what it wrote to stderr (and to stdout after its
	// banner).
	Logs *Tail
	done chan struct{}
	err  error // of Wait, once done is closed
}

// Start runs path with args and env and, when banner is set, waits (up to
// timeout) for the line of its stdout starting with banner, whose first
// word after it is the URL it serves on.
func Start(name, path string, args, env []string, banner string, timeout time.Duration) (*Process, error) {
	cmd := exec.Command(path, args...)
	cmd.Env = env
	return StartCmd(name, cmd, banner, timeout)
}

// StartCmd is Start for a command already set up (its credentials, say);
// its stdout and stderr must be unset.
func StartCmd(name string, cmd *exec.Cmd, banner string, timeout time.Duration) (*Process, error) {
	configureChild(cmd)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	p := &Process{Name: name, Cmd: cmd, Logs: &Tail{Max: 64 << 10}, done: make(chan struct{})}
	cmd.Stderr = p.Logs
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting the %s: %w", name, err)
	}
	urls := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		found := banner == ""
		for sc.Scan() {
			line := sc.Text()
			if rest, ok := strings.CutPrefix(line, banner); ok && !found {
				if f := strings.Fields(rest); len(f) > 0 {
					found = true
					urls <- f[0]
				}
				continue
			}
			_, _ = p.Logs.Write([]byte(line + "\n"))
		}
		// Keep reading to the end, so the process never blocks on a full pipe.
		_, _ = io.Copy(io.Discard, stdout)
		p.err = cmd.Wait()
		close(p.done)
	}()
	if banner == "" {
		return p, nil
	}
	select {
	case p.URL = <-urls:
		return p, nil
	case <-p.done:
		return nil, fmt.Errorf("the %s exited before serving (%v); its log:\n%s", name, p.err, p.Logs)
	case <-time.After(timeout):
		p.Stop()
		return nil, fmt.Errorf("the %s did not print %q within %s; its log:\n%s", name, strings.TrimSpace(banner), timeout, p.Logs)
	}
}

// PID is the process's id.
func (p *Process) PID() int { return p.Cmd.Process.Pid }

// Done is closed once the process has exited.
func (p *Process) Done() <-chan struct{} { return p.done }

// Exited reports an exit before Stop, with the process's log.
func (p *Process) Exited() error {
	select {
	case <-p.done:
		return fmt.Errorf("the %s exited during the run (%v); its log:\n%s", p.Name, p.err, p.Logs)
	default:
		return nil
	}
}

// Stop asks the process to finish (SIGTERM) and kills it if it has not
// within ten seconds.
func (p *Process) Stop() { p.StopWith(syscall.SIGTERM, 10*time.Second) }

// StopWith sends sig to the process and kills it if it has not exited
// within grace.
func (p *Process) StopWith(sig syscall.Signal, grace time.Duration) {
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.Cmd.Process.Signal(sig)
	select {
	case <-p.done:
	case <-time.After(grace):
		p.Kill()
	}
}

// Kill ends the process with SIGKILL, by its PID, and waits for it: a
// crash, with nothing flushed or finished.
func (p *Process) Kill() {
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.Cmd.Process.Kill()
	<-p.done
}

// Wait blocks until the process exits and returns what Wait returned.
func (p *Process) Wait() error {
	<-p.done
	return p.err
}

// Tail keeps the last Max bytes written to it: a process's log, for the
// message when it fails.
type Tail struct {
	mu  sync.Mutex
	Max int
	buf []byte
}

func (t *Tail) Write(b []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, b...)
	if over := len(t.buf) - t.Max; over > 0 {
		t.buf = append(t.buf[:0], t.buf[over:]...)
	}
	return len(b), nil
}

func (t *Tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.buf) == 0 {
		return "(empty)"
	}
	return string(t.buf)
}
