package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"time"

	"billing-api/internal/harness"
)

type config struct {
	serverBinary string
	databaseURL  string
	short        bool
	only         []string
	reportPath   string
	command      string
	pgBinDir     string
	redisServer  string
}

func (c *config) validate() error {
	if c.databaseURL == "" {
		return errors.New("--database-url (or BILLING_RELIABILITY_DATABASE_URL) must name a PostgreSQL the harness may create databases on")
	}
	if _, err := os.Stat(c.serverBinary); err != nil {
		return fmt.Errorf("--server-binary: %w (make build)", err)
	}
	for _, name := range c.only {
		if !slices.ContainsFunc(scenarios, func(s scenario) bool { return s.name == name }) {
			return fmt.Errorf("--only: there is no scenario %q", name)
		}
	}
	return nil
}

// scale picks the short run's value or the full run's.
func (c *config) scale(short, full int) int {
	if c.short {
		return short
	}
	return full
}

func (c *config) duration(short, full time.Duration) time.Duration {
	if c.short {
		return short
	}
	return full
}

// scenario is one way of breaking the service; it returns its figures.
type scenario struct {
	name, title string
	// budget bounds the scenario (the short run's, the full run's).
	short, full time.Duration
	run         func(ctx context.Context, r *runner) ([]figure, error)
}

var scenarios = []scenario{
	{"kill-quota", "SIGKILL during quota writes", time.Minute, 3 * time.Minute, killDuringQuotaWrites},
	{"kill-usage", "SIGKILL during usage ingestion", time.Minute, 3 * time.Minute, killDuringIngestion},
	{"kill-close", "SIGKILL while a month is closed", time.Minute, 3 * time.Minute, killDuringClose},
	{"kill-collection", "SIGKILL during a collection round", time.Minute, 3 * time.Minute, killDuringCollection},
	{"postgres-outage", "PostgreSQL outage under load (a scratch cluster)", time.Minute, 3 * time.Minute, postgresOutage},
	{"redis-outage", "Redis outage under load (shared rate limits)", time.Minute, 3 * time.Minute, redisOutage},
	{"replicas", "Two replicas hammered on one PostgreSQL", time.Minute, 3 * time.Minute, replicasHammered},
	{"slow-clients", "Slow and flooding clients", time.Minute, 3 * time.Minute, slowClients},
}

// figure is one measured value and what it must be.
type figure struct {
	What  string
	Value string
	// Want is what the value must be ("0", "≤ 10s"); empty for a value
	// that is measured, not checked.
	Want string
	OK   bool
}

func measured(what, value string) figure { return figure{What: what, Value: value, OK: true} }

// mustBe is a count that must equal want.
func mustBe(what string, got, want int, of string) figure {
	v := fmt.Sprint(got)
	if of != "" {
		v += " " + of
	}
	return figure{What: what, Value: v, Want: fmt.Sprint(want), OK: got == want}
}

// atMost is a count that must not exceed limit.
func atMost(what string, got, limit int) figure {
	return figure{What: what, Value: fmt.Sprint(got), Want: fmt.Sprintf("≤ %d", limit), OK: got <= limit}
}

// within is a duration that must not exceed limit.
func within(what string, got, limit time.Duration) figure {
	return figure{What: what, Value: got.Round(time.Millisecond).String(), Want: "≤ " + limit.String(), OK: got <= limit}
}

// runner holds what every scenario shares: the configuration, the
// processes and databases to end, and the report.
type runner struct {
	cfg     *config
	cleanup []func()
}

// defer_ registers f to run when the scenario ends (last first).
func (r *runner) atEnd(f func()) { r.cleanup = append(r.cleanup, f) }

func (r *runner) endScenario() {
	for i := len(r.cleanup) - 1; i >= 0; i-- {
		r.cleanup[i]()
	}
	r.cleanup = nil
}

func run(ctx context.Context, c *config) (*report, error) {
	rep := &report{Short: c.short, Started: time.Now().UTC(), Command: c.command}
	if rep.Command == "" {
		rep.Command = strings.Join(os.Args, " ")
	}
	rep.Commit = gitCommit()
	if v, err := harness.PostgresVersion(ctx, c.databaseURL); err == nil {
		rep.Postgres = v
	} else {
		return nil, fmt.Errorf("connecting to %s: %w", harness.Redact(c.databaseURL), err)
	}
	r := &runner{cfg: c}
	var errs []error
	for _, s := range scenarios {
		if len(c.only) > 0 && !slices.Contains(c.only, s.name) {
			continue
		}
		if ctx.Err() != nil {
			break
		}
		progress("== %s: %s", s.name, s.title)
		start := time.Now()
		sctx, cancel := context.WithTimeout(ctx, c.duration(s.short, s.full))
		figs, err := s.run(sctx, r)
		cancel()
		r.endScenario()
		res := scenarioResult{Name: s.name, Title: s.title, Took: time.Since(start), Figures: figs}
		if err != nil {
			res.Error = err.Error()
			errs = append(errs, fmt.Errorf("%s: %w", s.name, err))
		}
		for _, f := range figs {
			mark := "✓"
			if !f.OK {
				mark = "✗"
			}
			want := ""
			if f.Want != "" {
				want = " (must be " + f.Want + ")"
			}
			progress("  %s %s: %s%s", mark, f.What, f.Value, want)
		}
		if err != nil {
			progress("  ✗ %v", err)
		}
		progress("  took %s", res.Took.Round(100*time.Millisecond))
		rep.Scenarios = append(rep.Scenarios, res)
	}
	rep.Took = time.Since(rep.Started)
	return rep, errors.Join(errs...)
}

// gitCommit names the checkout's commit, marked when the tree has changes.
func gitCommit() string {
	out, err := exec.Command("git", "rev-parse", "--short=12", "HEAD").Output()
	if err != nil {
		return "unknown (not a git checkout)"
	}
	commit := strings.TrimSpace(string(out))
	if st, err := exec.Command("git", "status", "--porcelain", "--untracked-files=no").Output(); err == nil && len(strings.TrimSpace(string(st))) > 0 {
		commit += " (with uncommitted changes)"
	}
	return commit
}
