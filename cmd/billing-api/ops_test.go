package main

import (
	"io"
	"net/http"
	"strings"
	"testing"
)

// With --metrics-listen, /metrics is served there and only there.
func TestMetricsOnTheirOwnListener(t *testing.T) {
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
