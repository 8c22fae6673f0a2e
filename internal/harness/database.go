package harness

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// Database is a database created for one run on an existing PostgreSQL.
type Database struct {
	Name string
	// URL reaches it: the admin URL with the database name replaced.
	URL      string
	adminURL string
}

// CreateDatabase creates an empty database through adminURL, named prefix,
// the time and a random suffix, so one left behind (a killed run) is
// recognisable.
func CreateDatabase(ctx context.Context, adminURL, prefix string) (*Database, error) {
	u, err := url.Parse(adminURL)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return nil, fmt.Errorf("the database URL must be a postgres:// URL, not %q", Redact(adminURL))
	}
	suffix, err := RandomHex(4)
	if err != nil {
		return nil, err
	}
	name := fmt.Sprintf("%s%d_%s", prefix, time.Now().Unix(), suffix)
	conn, err := pgx.Connect(ctx, adminURL)
	if err != nil {
		return nil, fmt.Errorf("connecting to %s: %w", Redact(adminURL), err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		return nil, fmt.Errorf("creating database %s: %w", name, err)
	}
	u.Path = "/" + name
	return &Database{Name: name, URL: u.String(), adminURL: adminURL}, nil
}

// Drop removes the database, disconnecting whatever still uses it.
func (d *Database) Drop(ctx context.Context) error {
	conn, err := pgx.Connect(ctx, d.adminURL)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{d.Name}.Sanitize()+" WITH (FORCE)")
	return err
}

// PostgresVersion is the server's version string.
func PostgresVersion(ctx context.Context, dbURL string) (string, error) {
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		return "", err
	}
	defer conn.Close(ctx)
	var v string
	err = conn.QueryRow(ctx, "SHOW server_version").Scan(&v)
	return v, err
}

// Redact hides a password in a database URL meant for a message.
func Redact(dbURL string) string {
	u, err := url.Parse(dbURL)
	if err != nil {
		return "(unparsable URL)"
	}
	if _, ok := u.User.Password(); ok {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
	}
	return strings.TrimSpace(u.String())
}

// CleanEnv is the harness's environment without the server's settings, so
// a DATABASE_URL_FILE or BILLING_* of the caller's shell cannot change
// what is measured.
func CleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "BILLING_") || strings.HasPrefix(kv, "DATABASE_URL") || strings.HasPrefix(kv, "LISTEN_ADDR=") {
			continue
		}
		env = append(env, kv)
	}
	return env
}

// RandomHex is n random bytes written in hex (a token, a name's suffix).
func RandomHex(n int) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return hex.EncodeToString(b), nil
}
