package main

import (
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"billing-api/store"
)

// Every flag has an environment variable; the flag wins when both are set.
// A variable that does not parse is reported before any command runs.
var envErrors []error

func badEnv(name, value string, err error) {
	envErrors = append(envErrors, fmt.Errorf("$%s=%q: %w", name, value, err))
}

func envString(name, def string) string {
	if v, ok := os.LookupEnv(name); ok {
		return v
	}
	return def
}

// envParsed reads a variable with parse, or def when it is unset; a value
// that does not parse is recorded and def is used meanwhile.
func envParsed[T any](name string, def T, parse func(string) (T, error)) T {
	v, ok := os.LookupEnv(name)
	if !ok {
		return def
	}
	x, err := parse(v)
	if err != nil {
		badEnv(name, v, err)
		return def
	}
	return x
}

func envInt(name string, def int) int { return envParsed(name, def, strconv.Atoi) }

func envDuration(name string, def time.Duration) time.Duration {
	return envParsed(name, def, time.ParseDuration)
}

func envBool(name string, def bool) bool { return envParsed(name, def, strconv.ParseBool) }

// globalConfig is what every subcommand needs: the store and logging.
type globalConfig struct {
	store         store.Config
	planCatalogue string
	logLevel      string
	logFormat     string
}

func (g *globalConfig) bind(fs *pflag.FlagSet) {
	fs.StringVar(&g.store.URL, "database-url", envString("DATABASE_URL", ""),
		"PostgreSQL URL (postgres://...); unset uses the embedded SQLite file [$DATABASE_URL]")
	fs.StringVar(&g.store.SQLitePath, "sqlite-path", envString("BILLING_SQLITE_PATH", store.DefaultSQLitePath),
		"SQLite file used when no database URL is set [$BILLING_SQLITE_PATH]")
	fs.IntVar(&g.store.MaxOpenConns, "db-max-open-conns", envInt("BILLING_DB_MAX_OPEN_CONNS", 0),
		"most open database connections; 0 = 20 on PostgreSQL, 8 on SQLite [$BILLING_DB_MAX_OPEN_CONNS]")
	fs.IntVar(&g.store.MaxIdleConns, "db-max-idle-conns", envInt("BILLING_DB_MAX_IDLE_CONNS", 0),
		"most idle database connections; 0 = as many as open [$BILLING_DB_MAX_IDLE_CONNS]")
	fs.DurationVar(&g.store.ConnMaxLifetime, "db-conn-max-lifetime", envDuration("BILLING_DB_CONN_MAX_LIFETIME", 30*time.Minute),
		"recycle database connections after this long [$BILLING_DB_CONN_MAX_LIFETIME]")
	fs.DurationVar(&g.store.ConnMaxIdleTime, "db-conn-max-idle-time", envDuration("BILLING_DB_CONN_MAX_IDLE_TIME", 5*time.Minute),
		"close database connections idle this long [$BILLING_DB_CONN_MAX_IDLE_TIME]")
	fs.DurationVar(&g.store.SlowQuery, "db-slow-query", envDuration("BILLING_DB_SLOW_QUERY", 200*time.Millisecond),
		"log statements slower than this; 0 disables [$BILLING_DB_SLOW_QUERY]")
	fs.StringVar(&g.planCatalogue, "plan-catalogue", envString("BILLING_PLAN_CATALOGUE", ""),
		"YAML plan catalogue to use instead of the embedded one; validated at start-up [$BILLING_PLAN_CATALOGUE]")
	fs.StringVar(&g.logLevel, "log-level", envString("BILLING_LOG_LEVEL", "info"),
		"debug, info, warn or error [$BILLING_LOG_LEVEL]")
	fs.StringVar(&g.logFormat, "log-format", envString("BILLING_LOG_FORMAT", "json"),
		"json or text [$BILLING_LOG_FORMAT]")
}

func (g *globalConfig) logger() (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(g.logLevel)); err != nil {
		return nil, fmt.Errorf("--log-level: %w", err)
	}
	opts := &slog.HandlerOptions{Level: level}
	switch strings.ToLower(g.logFormat) {
	case "json":
		return slog.New(slog.NewJSONHandler(os.Stderr, opts)), nil
	case "text":
		return slog.New(slog.NewTextHandler(os.Stderr, opts)), nil
	}
	return nil, fmt.Errorf("--log-format must be json or text, not %q", g.logFormat)
}
