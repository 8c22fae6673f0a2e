package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"billing-api/internal/harness"
)

// process is a server the harness started: the billing-api binary or the
// baseline.
type process struct {
	*harness.Process
	// adminToken opens the server's operator endpoints (profiles).
	adminToken string
}

// startProcess runs path with args and env and waits (up to timeout) for
// the line starting with banner on its stdout, which names its URL.
func startProcess(name, path string, args, env []string, banner string, timeout time.Duration) (*process, error) {
	p, err := harness.Start(name, path, args, env, banner, timeout)
	if err != nil {
		return nil, err
	}
	return &process{Process: p}, nil
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
