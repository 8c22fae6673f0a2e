package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// benchPrefix starts the name of every database the harness creates, so
// one left behind (--keep, or a killed run) is recognisable.
const benchPrefix = "billing_bench_"

// benchDatabase is a database created for one run.
type benchDatabase struct {
	Name string
	// URL reaches it: the admin URL with the database name replaced.
	URL      string
	adminURL string
}

// createBenchDatabase creates an empty database through adminURL.
func createBenchDatabase(ctx context.Context, adminURL string) (*benchDatabase, error) {
	u, err := url.Parse(adminURL)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return nil, fmt.Errorf("the database URL must be a postgres:// URL, not %q", redact(adminURL))
	}
	b := make([]byte, 4)
	if _, err := rand.Read(b); err != nil {
		return nil, err
	}
	name := fmt.Sprintf("%s%d_%s", benchPrefix, time.Now().Unix(), hex.EncodeToString(b))
	conn, err := pgx.Connect(ctx, adminURL)
	if err != nil {
		return nil, fmt.Errorf("connecting to %s: %w", redact(adminURL), err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		return nil, fmt.Errorf("creating database %s: %w", name, err)
	}
	u.Path = "/" + name
	return &benchDatabase{Name: name, URL: u.String(), adminURL: adminURL}, nil
}

// Drop removes the database, disconnecting whatever still uses it.
func (d *benchDatabase) Drop(ctx context.Context) error {
	conn, err := pgx.Connect(ctx, d.adminURL)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{d.Name}.Sanitize()+" WITH (FORCE)")
	return err
}

// postgresVersion is the server's version string.
func postgresVersion(ctx context.Context, dbURL string) (string, error) {
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		return "", err
	}
	defer conn.Close(ctx)
	var v string
	err = conn.QueryRow(ctx, "SHOW server_version").Scan(&v)
	return v, err
}

// redact hides a password in a database URL meant for a message.
func redact(dbURL string) string {
	u, err := url.Parse(dbURL)
	if err != nil {
		return "(unparsable URL)"
	}
	if _, ok := u.User.Password(); ok {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
	}
	return strings.TrimSpace(u.String())
}
