package main

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// The operator raises and lowers a tenant's ceiling from the command line;
// a running server (another process) follows within a second.
func TestTenantLimitsCommands(t *testing.T) {
	t.Parallel()
	env := storeEnv(t)
	mustRun(t, env, "tenant", "create", "acme")
	secret := strings.TrimSpace(mustRun(t, env, "token", "create", "--tenant", "acme", "--name", "ci"))
	out := mustRun(t, env, "tenant", "limits", "set", "acme", "--object", "http_loadbalancer=50", "--api", "ves.io.schema.quota.API.List=100/second:200")
	if !regexp.MustCompile(`object_limits\[http_loadbalancer\]\s+5\s+50\s+50\n`).MatchString(out) ||
		!regexp.MustCompile(`api_limits\[listQuotas\]\s+10/SECOND:20\s+100/SECOND:200\s+100/SECOND:200\n`).MatchString(out) {
		t.Fatalf("set printed\n%s", out)
	}
	// One spelling replaces the other.
	out = mustRun(t, env, "tenant", "limits", "set", "acme", "--api", "listQuotas=7/minute")
	if !strings.Contains(out, "7/MINUTE:7") || strings.Contains(out, "100/SECOND:200") {
		t.Fatalf("set in the other spelling:\n%s", out)
	}
	if _, errOut, err := run(t, env, "tenant", "limits", "set", "acme", "--object", "http_loadbalancer=-2"); err == nil || !strings.Contains(errOut, "object_limits[http_loadbalancer].maximum") {
		t.Fatalf("a maximum below -1 was accepted: %v %s", err, errOut)
	}

	base, stop := startServer(t, env)
	defer stop()
	lb := func() int32 {
		req, _ := http.NewRequest(http.MethodGet, base+"/api/web/namespaces/system/quota/limits", nil)
		req.Header.Set("Authorization", "APIToken "+secret)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var l struct {
			Objects map[string]struct{ Maximum int32 }
		}
		if err := json.NewDecoder(res.Body).Decode(&l); err != nil {
			t.Fatal(err)
		}
		return l.Objects["http_loadbalancer"].Maximum
	}
	if got := lb(); got != 50 {
		t.Fatalf("the server reports http_loadbalancer %d, want the override's 50", got)
	}
	mustRun(t, env, "tenant", "limits", "clear", "acme", "--object", "http_loadbalancer")
	// The server caches limits for at most a second.
	deadline := time.Now().Add(10 * time.Second)
	for lb() != 5 {
		if time.Now().After(deadline) {
			t.Fatal("the cleared override still holds on the server")
		}
		time.Sleep(50 * time.Millisecond) // waiting for a condition, bounded by the deadline
	}

	path := filepath.Join(t.TempDir(), "overrides.json")
	if err := os.WriteFile(path, []byte(`{"resource_limits":{"storage_gib":{"maximum":-1}}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	out = mustRun(t, env, "tenant", "limits", "set", "acme", "--from-file", path)
	if !regexp.MustCompile(`resource_limits\[storage_gib\]\s+10\s+-1\s+-1\n`).MatchString(out) || strings.Contains(out, "7/MINUTE") {
		t.Fatalf("--from-file replaces every override:\n%s", out)
	}
	out = mustRun(t, env, "tenant", "limits", "clear", "acme")
	if strings.Contains(out, "overrides set") {
		t.Fatalf("clear left overrides:\n%s", out)
	}
}
