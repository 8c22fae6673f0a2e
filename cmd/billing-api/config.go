package main

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"billing-api/store"
)

// Flag annotations that tie a flag to its environment variable and to the
// flag naming a file that may hold its value instead.
const (
	annotationEnv  = "billing-api/env"
	annotationFile = "billing-api/file-for"
	annotationPair = "billing-api/pair"
)

// envFlag ties an already defined flag to its environment variable and
// names the variable in the flag's help. The help shows only the static
// default, so a secret in the environment never reaches --help.
func envFlag(fs *pflag.FlagSet, name, env string) {
	f := fs.Lookup(name)
	f.Usage += " [$" + env + "]"
	_ = fs.SetAnnotation(name, annotationEnv, []string{env})
}

// secretFileFlag adds --<name>-file ($<env>_FILE) next to the secret flag
// name: a file whose content (trailing newline trimmed) becomes its value.
func secretFileFlag(fs *pflag.FlagSet, name, env string) {
	file := name + "-file"
	fs.String(file, "", "file holding the value of --"+name+" (trailing newline trimmed); set one of the two")
	envFlag(fs, file, env+"_FILE")
	_ = fs.SetAnnotation(file, annotationFile, []string{name})
	_ = fs.SetAnnotation(file, annotationPair, []string{name})
	_ = fs.SetAnnotation(name, annotationPair, []string{file})
}

// applyEnvironment gives every flag the command line left alone the value
// of its environment variable, then reads the secret files. A flag of a
// secret pair on the command line hides both variables of the pair, so a
// flag always wins over the environment. Every variable that does not
// parse is reported.
func applyEnvironment(fs *pflag.FlagSet, lookup func(string) (string, bool)) error {
	var errs []error
	fs.VisitAll(func(f *pflag.Flag) {
		env := annotation(f, annotationEnv)
		if env == "" || f.Changed {
			return
		}
		if pair := fs.Lookup(annotation(f, annotationPair)); pair != nil && pair.Changed {
			return
		}
		if v, ok := lookup(env); ok {
			if err := f.Value.Set(v); err != nil {
				errs = append(errs, fmt.Errorf("$%s: %w", env, err))
			}
		}
	})
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	fs.VisitAll(func(f *pflag.Flag) {
		if target := fs.Lookup(annotation(f, annotationFile)); target != nil && f.Value.String() != "" {
			if err := readSecretFile(f, target); err != nil {
				errs = append(errs, err)
			}
		}
	})
	return errors.Join(errs...)
}

// readSecretFile sets target from the file named by the value of file.
func readSecretFile(file, target *pflag.Flag) error {
	if target.Value.String() != "" {
		return fmt.Errorf("both --%s [$%s] and --%s [$%s] are set; set one",
			target.Name, annotation(target, annotationEnv), file.Name, annotation(file, annotationEnv))
	}
	path := file.Value.String()
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("--%s: %w", file.Name, err)
	}
	value := strings.TrimRight(string(data), "\r\n")
	if value == "" {
		return fmt.Errorf("--%s: %s is empty", file.Name, path)
	}
	return target.Value.Set(value)
}

func annotation(f *pflag.Flag, key string) string {
	if v := f.Annotations[key]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// globalConfig is what every subcommand needs: the store and logging.
type globalConfig struct {
	store         store.Config
	planCatalogue string
	logLevel      string
	logFormat     string
}

func (g *globalConfig) bind(fs *pflag.FlagSet) {
	fs.StringVar(&g.store.URL, "database-url", "",
		"PostgreSQL URL (postgres://...); unset uses the embedded SQLite file")
	envFlag(fs, "database-url", "DATABASE_URL")
	secretFileFlag(fs, "database-url", "DATABASE_URL")
	fs.StringVar(&g.store.DirectURL, "database-direct-url", "",
		"PostgreSQL URL of the same database bypassing the connection pooler --database-url goes through "+
			"(transaction pooling): migrations run on it, and statements on --database-url are not prepared")
	envFlag(fs, "database-direct-url", "BILLING_DATABASE_DIRECT_URL")
	secretFileFlag(fs, "database-direct-url", "BILLING_DATABASE_DIRECT_URL")
	fs.StringVar(&g.store.SQLitePath, "sqlite-path", store.DefaultSQLitePath,
		"SQLite file used when no database URL is set")
	envFlag(fs, "sqlite-path", "BILLING_SQLITE_PATH")
	fs.IntVar(&g.store.MaxOpenConns, "db-max-open-conns", 0,
		"most open database connections; 0 = 20 on PostgreSQL, 8 on SQLite")
	envFlag(fs, "db-max-open-conns", "BILLING_DB_MAX_OPEN_CONNS")
	fs.IntVar(&g.store.MaxIdleConns, "db-max-idle-conns", 0,
		"most idle database connections; 0 = as many as open")
	envFlag(fs, "db-max-idle-conns", "BILLING_DB_MAX_IDLE_CONNS")
	fs.DurationVar(&g.store.ConnMaxLifetime, "db-conn-max-lifetime", 30*time.Minute,
		"recycle database connections after this long")
	envFlag(fs, "db-conn-max-lifetime", "BILLING_DB_CONN_MAX_LIFETIME")
	fs.DurationVar(&g.store.ConnMaxIdleTime, "db-conn-max-idle-time", 5*time.Minute,
		"close database connections idle this long")
	envFlag(fs, "db-conn-max-idle-time", "BILLING_DB_CONN_MAX_IDLE_TIME")
	fs.DurationVar(&g.store.SlowQuery, "db-slow-query", 200*time.Millisecond,
		"log statements slower than this; 0 disables")
	envFlag(fs, "db-slow-query", "BILLING_DB_SLOW_QUERY")
	fs.StringVar(&g.planCatalogue, "plan-catalogue", "",
		"YAML plan catalogue to use instead of the embedded one; validated at start-up")
	envFlag(fs, "plan-catalogue", "BILLING_PLAN_CATALOGUE")
	fs.StringVar(&g.logLevel, "log-level", "info", "debug, info, warn or error")
	envFlag(fs, "log-level", "BILLING_LOG_LEVEL")
	fs.StringVar(&g.logFormat, "log-format", "json", "json or text")
	envFlag(fs, "log-format", "BILLING_LOG_FORMAT")
}

func (g *globalConfig) logger() (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(g.logLevel)); err != nil {
		return nil, fmt.Errorf("--log-level: %w", err)
	}
	opts := &slog.HandlerOptions{Level: level}
	var h slog.Handler
	switch strings.ToLower(g.logFormat) {
	case "json":
		h = slog.NewJSONHandler(os.Stderr, opts)
	case "text":
		h = slog.NewTextHandler(os.Stderr, opts)
	default:
		return nil, fmt.Errorf("--log-format must be json or text, not %q", g.logFormat)
	}
	// The default too, so main's signal handler logs in the same format.
	l := slog.New(h)
	slog.SetDefault(l)
	return l, nil
}
