package main

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/pflag"

	"billing-api/store"
	"billing-api/store/storetest"
)

// parseConfig parses args the way the binary does, with env as the whole
// environment.
func parseConfig(t *testing.T, env map[string]string, args ...string) (*globalConfig, *serveConfig, error) {
	t.Helper()
	g, sc := &globalConfig{}, &serveConfig{}
	fs := pflag.NewFlagSet("test", pflag.ContinueOnError)
	g.bind(fs)
	sc.bind(fs)
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	err := applyEnvironment(fs, func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	return g, sc, err
}

func writeFile(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// bareEnv is an environment naming no store.
func bareEnv(t *testing.T) []string {
	return []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}
}

func TestEnvironmentFillsOnlyTheFlagsLeftUnset(t *testing.T) {
	t.Parallel()
	g, sc, err := parseConfig(t, map[string]string{
		"BILLING_DB_MAX_OPEN_CONNS": "7",
		"BILLING_LOG_LEVEL":         "debug",
		"BILLING_ADMIN_TOKEN":       "from-env",
		// Under a flag, a variable is not even parsed.
		"BILLING_SHUTDOWN_TIMEOUT": "soon",
	}, "--log-level", "warn", "--shutdown-timeout", "3s")
	if err != nil {
		t.Fatal(err)
	}
	if g.store.MaxOpenConns != 7 || g.logLevel != "warn" || sc.adminToken != "from-env" || sc.shutdownTimeout.String() != "3s" {
		t.Fatalf("got open=%d level=%s token=%s timeout=%s", g.store.MaxOpenConns, g.logLevel, sc.adminToken, sc.shutdownTimeout)
	}
	if g.store.SQLitePath != "data/billing.db" || g.logFormat != "json" {
		t.Fatalf("static defaults lost: %q %q", g.store.SQLitePath, g.logFormat)
	}
}

func TestEveryBadVariableIsNamed(t *testing.T) {
	t.Parallel()
	_, _, err := parseConfig(t, map[string]string{"BILLING_DB_MAX_OPEN_CONNS": "lots", "BILLING_DEMO": "maybe"})
	if err == nil || !strings.Contains(err.Error(), "$BILLING_DB_MAX_OPEN_CONNS") || !strings.Contains(err.Error(), "$BILLING_DEMO") {
		t.Fatalf("error %v", err)
	}
}

func TestSecretsFromFiles(t *testing.T) {
	t.Parallel()
	token := writeFile(t, "token-from-file\n")
	url := writeFile(t, "postgres://billing:pw@db.example/billing\r\n")
	for name, c := range map[string]struct {
		env       map[string]string
		args      []string
		wantToken string
		wantErr   string
	}{
		"variable":                     {env: map[string]string{"BILLING_ADMIN_TOKEN_FILE": token}, wantToken: "token-from-file"},
		"flag":                         {args: []string{"--admin-token-file", token}, wantToken: "token-from-file"},
		"value flag beats file var":    {env: map[string]string{"BILLING_ADMIN_TOKEN_FILE": token}, args: []string{"--admin-token", "flag"}, wantToken: "flag"},
		"file flag beats value var":    {env: map[string]string{"BILLING_ADMIN_TOKEN": "env"}, args: []string{"--admin-token-file", token}, wantToken: "token-from-file"},
		"both variables":               {env: map[string]string{"BILLING_ADMIN_TOKEN": "env", "BILLING_ADMIN_TOKEN_FILE": token}, wantErr: "$BILLING_ADMIN_TOKEN_FILE"},
		"both flags":                   {args: []string{"--admin-token", "x", "--admin-token-file", token}, wantErr: "--admin-token-file"},
		"missing file":                 {env: map[string]string{"BILLING_ADMIN_TOKEN_FILE": token + ".missing"}, wantErr: "no such file"},
		"empty file":                   {env: map[string]string{"BILLING_ADMIN_TOKEN_FILE": writeFile(t, "\n")}, wantErr: "is empty"},
		"database url from a variable": {env: map[string]string{"DATABASE_URL_FILE": url}},
		"both database url variables":  {env: map[string]string{"DATABASE_URL": "postgres://x", "DATABASE_URL_FILE": url}, wantErr: "$DATABASE_URL_FILE"},
	} {
		t.Run(name, func(t *testing.T) {
			g, sc, err := parseConfig(t, c.env, c.args...)
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, c.wantErr)
				}
				if strings.Contains(err.Error(), "token-from-file") || strings.Contains(err.Error(), "pw@") {
					t.Fatalf("error shows the secret: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if sc.adminToken != c.wantToken {
				t.Fatalf("admin token %q, want %q", sc.adminToken, c.wantToken)
			}
			if c.env["DATABASE_URL_FILE"] != "" && g.store.URL != "postgres://billing:pw@db.example/billing" {
				t.Fatalf("database URL %q", g.store.URL)
			}
		})
	}
}

func TestHelpShowsNoSecretFromTheEnvironment(t *testing.T) {
	t.Parallel()
	env := append(bareEnv(t), "BILLING_ADMIN_TOKEN=env-admin-secret",
		"DATABASE_URL=postgres://billing:env-db-password@db.invalid/billing", "BILLING_SQLITE_PATH=/env/sqlite/path")
	for _, args := range [][]string{{"--help"}, {"serve", "--help"}, {"migrate", "--help"}, {"token", "create", "--help"}} {
		out := mustRun(t, env, args...)
		for _, secret := range []string{"env-admin-secret", "env-db-password", "/env/sqlite/path"} {
			if strings.Contains(out, secret) {
				t.Errorf("billing-api %s prints %q:\n%s", strings.Join(args, " "), secret, out)
			}
		}
		if args[0] != "--help" && !strings.Contains(out, "[$DATABASE_URL_FILE]") {
			t.Errorf("billing-api %s does not name $DATABASE_URL_FILE:\n%s", strings.Join(args, " "), out)
		}
	}
	if out := mustRun(t, env, "serve", "--help"); !strings.Contains(out, "[$BILLING_ADMIN_TOKEN]") || !strings.Contains(out, `(default ":8080")`) {
		t.Errorf("serve --help lacks the variable names or static defaults:\n%s", out)
	}
}

// The binary reads the operator token and the database URL from files.
func TestBinaryReadsSecretsFromFiles(t *testing.T) {
	t.Parallel()
	env := append(storeEnv(t), "BILLING_ADMIN_TOKEN_FILE="+writeFile(t, "ops-from-file\n"))
	base, stop := startServer(t, env)
	defer stop()
	req, _ := http.NewRequest(http.MethodGet, base+"/admin/v1/tenants", nil)
	req.Header.Set("Authorization", "Bearer ops-from-file")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("operator token from the file answered %d", res.StatusCode)
	}

	// The file's content is what the store is opened with.
	bad := append(bareEnv(t), "DATABASE_URL_FILE="+writeFile(t, "mysql://x\n"))
	if _, errOut, err := run(t, bad, "migrate"); err == nil || !strings.Contains(errOut, "postgres://") {
		t.Fatalf("DATABASE_URL_FILE ignored: %v %q", err, errOut)
	}
	if cfg := storetest.Config(t); cfg.URL != "" {
		env := append(bareEnv(t), "DATABASE_URL_FILE="+writeFile(t, cfg.URL+"\n"))
		if out := mustRun(t, env, "migrate"); !strings.Contains(out, "postgres database") {
			t.Fatalf("migrate printed %q", out)
		}
	}
}

// The binary takes the direct URL from BILLING_DATABASE_DIRECT_URL (or its
// _FILE) and migrates over it, while serving statements on DATABASE_URL.
func TestBinaryMigratesOverTheDirectURL(t *testing.T) {
	t.Parallel()
	cfg := storetest.EmptyConfig(t)
	if cfg.URL == "" {
		t.Skip("a direct URL beside a pooled one: PostgreSQL only (set " + storetest.EnvPostgresURL + ")")
	}
	direct := cfg.URL
	if cfg.DirectURL != "" {
		direct = cfg.DirectURL
	}
	bypass, directURL := storetest.NewProxy(t, direct)
	env := append(bareEnv(t), "DATABASE_URL="+cfg.URL, "BILLING_DATABASE_DIRECT_URL_FILE="+writeFile(t, directURL+"\n"))
	if out := mustRun(t, env, "migrate"); !strings.Contains(out, "schema version "+store.LatestSchemaVersion()) {
		t.Fatalf("migrate printed %q", out)
	}
	if bypass.Accepted() == 0 {
		t.Fatal("migrate made no connection on the direct URL")
	}
	bad := append(bareEnv(t), "DATABASE_URL="+cfg.URL, "BILLING_DATABASE_DIRECT_URL=mysql://x")
	if _, errOut, err := run(t, bad, "migrate"); err == nil || !strings.Contains(errOut, "DATABASE_DIRECT_URL") {
		t.Fatalf("a bad direct URL: %v %q", err, errOut)
	}
}
