package main

import (
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
)

// With --metrics-listen, /metrics is served there and only there.
func TestMetricsOnTheirOwnListener(t *testing.T) {
	t.Parallel()
	base, cmd, logs, banner := startServerWithBanner(t, storeEnv(t), "--metrics-listen", "127.0.0.1:0")
	defer func() { _ = cmd.Process.Kill() }()
	metricsURL, ok := banner.waitForPrefix("  Metrics:     ")
	if !ok {
		t.Fatalf("no metrics URL printed:\n%s", logs.all())
	}
	get := func(url string) (int, string) {
		t.Helper()
		res, err := http.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		body, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(body)
	}
	if code, _ := get(base + "/healthz"); code != http.StatusOK {
		t.Fatalf("healthz %d", code)
	}
	if code, _ := get(base + "/metrics"); code != http.StatusNotFound {
		t.Fatalf("/metrics on the main listener answered %d", code)
	}
	code, body := get(metricsURL)
	if code != http.StatusOK {
		t.Fatalf("%s answered %d", metricsURL, code)
	}
	for _, want := range []string{`billing_http_requests_total{method="GET",operation="/healthz",status="200"} 1`, "go_sql_max_open_connections"} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	if code, _ := get(strings.TrimSuffix(metricsURL, "/metrics") + "/healthz"); code != http.StatusNotFound {
		t.Fatalf("the metrics listener serves /healthz: %d", code)
	}
}

type lockedWriter struct {
	mu sync.Mutex
	b  strings.Builder
}

func (w *lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

func (w *lockedWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.String()
}

// net/http's own complaints reach the JSON log at warn level. Go's server
// answers malformed requests (and a TLS handshake on a plain port) with a
// bare 400 and logs nothing, so the trigger is a handler writing its
// status twice, which net/http always reports.
func TestHTTPServerErrorsAreJSONLogLines(t *testing.T) {
	t.Parallel()
	out := &lockedWriter{}
	srv := newHTTPServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusNoContent)
		w.WriteHeader(http.StatusOK)
	}), slog.New(slog.NewJSONHandler(out, nil)), defaultConnLimits)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()
	res, err := http.Get("http://" + ln.Addr().String() + "/")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	// The handler logs before its response is sent, so the line is there.
	for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		var rec map[string]any
		if json.Unmarshal([]byte(line), &rec) == nil && rec["level"] == "WARN" &&
			strings.Contains(rec["msg"].(string), "http: superfluous response.WriteHeader call") {
			return
		}
	}
	t.Fatalf("no JSON warn line from net/http:\n%s", out.String())
}
