// Command billing-reliability is the project's fault harness: it starts
// billing-api servers (and a scratch PostgreSQL, and a Redis) on loopback,
// breaks them — SIGKILL mid-write, the database or the cache gone, two
// replicas racing, slow and flooding clients — and measures what clients
// and the database then see. Every process it starts is its own, ended by
// its PID; every run is bounded in time. `make reliability` runs it and
// writes RELIABILITY.md; docs/reliability.md describes it.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
)

func main() {
	cmd := newRootCommand()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := cmd.ExecuteContext(ctx); err != nil {
		fmt.Fprintf(os.Stderr, "billing-reliability: %v\n", err)
		os.Exit(1)
	}
}

func progress(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "billing-reliability: "+format+"\n", args...)
}

func newRootCommand() *cobra.Command {
	c := &config{}
	cmd := &cobra.Command{
		Use:   "billing-reliability",
		Short: "Break billing-api servers on purpose and measure what holds",
		Long: `Runs the fault scenarios against the server binary, on loopback only:
  kill-quota        SIGKILL while quota objects are created
  kill-usage        SIGKILL while usage batches are ingested
  kill-close        SIGKILL while a month is closed (admin API), then closed again
  kill-collection   SIGKILL during a collection round (retries), then retried again
  postgres-outage   a scratch PostgreSQL crashed under load and restarted
  redis-outage      the shared rate limits' Redis killed under load and restarted
  replicas          two servers on one database hammered with conflicting changes
  slow-clients      slowloris headers and bodies, oversized headers, a flood at a limit
Databases are created on --database-url's server for the run and dropped after it
(the outage scenario makes its own scratch cluster instead). The figures are
printed, and written as Markdown with --report. The exit status is non-zero when a
scenario could not run or a figure misses what it must be.`,
		Args:          cobra.NoArgs,
		SilenceUsage:  true,
		SilenceErrors: true,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := c.validate(); err != nil {
				return err
			}
			rep, err := run(cmd.Context(), c)
			if rep != nil {
				if werr := rep.write(c); werr != nil {
					err = errors.Join(err, werr)
				}
			}
			if err == nil && rep.failed() {
				err = errors.New("some figures miss what they must be (marked ✗ above)")
			}
			return err
		},
	}
	f := cmd.Flags()
	f.StringVar(&c.serverBinary, "server-binary", "bin/billing-api", "the billing-api binary to break")
	f.StringVar(&c.databaseURL, "database-url", os.Getenv("BILLING_RELIABILITY_DATABASE_URL"),
		"a PostgreSQL the harness may create (and drop) databases on (BILLING_RELIABILITY_DATABASE_URL)")
	f.BoolVar(&c.short, "short", false, "the short run CI makes (about a minute and a half): fewer tenants, shorter phases, shorter server timeouts")
	f.StringSliceVar(&c.only, "only", nil, "run only these scenarios (comma-separated names)")
	f.StringVar(&c.reportPath, "report", "", "write the figures as Markdown to this file (RELIABILITY.md)")
	f.StringVar(&c.command, "command", "", "the command line the report says produced it (default: this process's)")
	f.StringVar(&c.pgBinDir, "pg-bin", "/usr/lib/postgresql/15/bin", "PostgreSQL's server programs (initdb, postgres), for the scratch cluster")
	f.StringVar(&c.redisServer, "redis-server", "redis-server", "the redis-server program, for the Redis the outage scenario starts and kills")
	return cmd
}
