package main

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/riverqueue/river/rivertype"
	"github.com/spf13/cobra"

	"billing-api/server"
	"billing-api/server/jobs"
)

// The operator's view of the job engine, on the store's own connection
// (both engines), for scripts and for when no server runs; a running
// server also serves River's web UI at /admin/jobs/ (server.JobsUIPrefix).
func newJobsCommand(g *globalConfig) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "jobs",
		Short: "See and steer the background jobs (closing months, collecting invoices)",
	}
	cmd.AddCommand(newJobsListCommand(g), newJobsRetryCommand(g), newJobsCancelCommand(g))
	return cmd
}

var jobStates = []rivertype.JobState{
	rivertype.JobStateAvailable, rivertype.JobStateCancelled, rivertype.JobStateCompleted, rivertype.JobStateDiscarded,
	rivertype.JobStatePending, rivertype.JobStateRetryable, rivertype.JobStateRunning, rivertype.JobStateScheduled,
}

func newJobsListCommand(g *globalConfig) *cobra.Command {
	var (
		limit  int
		states []string
	)
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List jobs, newest first: by default those running, waiting for a retry, or given up (discarded)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if limit < 1 {
				return errors.New("--limit must be 1 or more")
			}
			var want []rivertype.JobState
			for _, s := range states {
				st := rivertype.JobState(strings.ToLower(s))
				if !slices.Contains(jobStates, st) {
					return fmt.Errorf("--state %q: must be one of %v", s, jobStates)
				}
				want = append(want, st)
			}
			return withApp(cmd, g, func(ctx context.Context, a *server.App) error {
				list, err := a.Jobs.List(ctx, limit, want...)
				if err != nil {
					return err
				}
				w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
				fmt.Fprintln(w, "ID\tKIND\tSTATE\tATTEMPT\tARGS\tNEXT/LAST RUN\tBY\tLAST ERROR")
				for _, j := range list {
					fmt.Fprintf(w, "%d\t%s\t%s\t%d/%d\t%s\t%s\t%s\t%s\n", j.ID, j.Kind, j.State, j.Attempt, j.MaxAttempts, j.Args,
						jobWhen(j).Format(time.RFC3339), strings.Join(j.AttemptedBy, ","), oneLine(j.LastError))
				}
				return w.Flush()
			})
		},
	}
	cmd.Flags().IntVar(&limit, "limit", 100, "the most jobs to list")
	cmd.Flags().StringSliceVar(&states, "state", nil, fmt.Sprintf("the states to list (repeatable; one of %v)", jobStates))
	return cmd
}

// jobWhen is when a job runs next, or last ran.
func jobWhen(j jobs.Job) time.Time {
	switch {
	case j.FinishedAt != nil:
		return *j.FinishedAt
	case j.State == rivertype.JobStateRunning && j.AttemptedAt != nil:
		return *j.AttemptedAt
	}
	return j.ScheduledAt
}

func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return s
}

func newJobsRetryCommand(g *globalConfig) *cobra.Command {
	return &cobra.Command{
		Use:   "retry ID",
		Short: "Run a failed, discarded or cancelled job again now",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return jobAction(cmd, g, args[0], (*jobs.Queue).Retry, "queued again")
		},
	}
}

func newJobsCancelCommand(g *globalConfig) *cobra.Command {
	return &cobra.Command{
		Use:   "cancel ID",
		Short: "Cancel a job so it never runs again (a running one stops when its replica next looks)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return jobAction(cmd, g, args[0], (*jobs.Queue).Cancel, "cancelled")
		},
	}
}

func jobAction(cmd *cobra.Command, g *globalConfig, arg string, act func(*jobs.Queue, context.Context, int64) (jobs.Job, error), done string) error {
	id, err := strconv.ParseInt(arg, 10, 64)
	if err != nil || id < 1 {
		return fmt.Errorf("job id %q: must be a positive number (see billing-api jobs list)", arg)
	}
	return withApp(cmd, g, func(ctx context.Context, a *server.App) error {
		j, err := act(a.Jobs, ctx, id)
		if err != nil {
			return err
		}
		fmt.Fprintf(cmd.OutOrStdout(), "job %d (%s) %s: now %s\n", j.ID, j.Kind, done, j.State)
		return nil
	})
}
