package main

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/google/uuid"
	"github.com/spf13/cobra"

	"billing-api/server"
	"billing-api/server/transition"
)

// newTransitionCommand is the operator's side of plan transitions: list
// them and decide the ones waiting for approval (the operator API's
// /admin/v1/plan_transitions does the same).
func newTransitionCommand(g *globalConfig) *cobra.Command {
	cmd := &cobra.Command{Use: "transition", Short: "List plan transitions and approve or reject the ones waiting for approval"}
	var tenantName, state, reason string
	list := &cobra.Command{
		Use:   "list",
		Short: "List plan transitions, newest first (--state WAITING_FOR_APPROVAL for the ones to decide)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withApp(cmd, g, func(ctx context.Context, a *server.App) error {
				var tenantID *uuid.UUID
				if tenantName != "" {
					t, err := a.Tenancy.Tenant(ctx, tenantName)
					if err != nil {
						return err
					}
					tenantID = &t.ID
				}
				ts, err := a.Transitions.List(ctx, tenantID, transition.State(state))
				if err != nil {
					return err
				}
				w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
				fmt.Fprintln(w, "ID\tTENANT ID\tFROM\tTO\tSTATE\tCREATED\tADD-ONS\tREASON")
				for _, t := range ts {
					fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", t.ID, t.TenantID, t.FromPlan, t.ToPlan, t.State,
						t.CreatedAt.Format(time.RFC3339), addonChanges(t.Request), t.Reason)
				}
				if err := w.Flush(); err != nil {
					return err
				}
				return printRequestNotes(cmd.OutOrStdout(), ts)
			})
		},
	}
	list.Flags().StringVar(&tenantName, "tenant", "", "only this tenant's")
	list.Flags().StringVar(&state, "state", "", "only those in this state (CREATING, WAITING_FOR_APPROVAL, FINISHED, FAILED)")
	decide := func(use, short string, do func(ctx context.Context, a *server.App, id uuid.UUID) (transition.Transition, error)) *cobra.Command {
		return &cobra.Command{
			Use: use + " ID", Short: short, Args: cobra.ExactArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				id, err := uuid.Parse(args[0])
				if err != nil {
					return fmt.Errorf("ID: %w", err)
				}
				return withApp(cmd, g, func(ctx context.Context, a *server.App) error {
					t, err := do(ctx, a, id)
					if err != nil {
						return err
					}
					fmt.Fprintf(cmd.OutOrStdout(), "plan transition %s (%s → %s) is %s\n", t.ID, t.FromPlan, t.ToPlan, t.State)
					return nil
				})
			},
		}
	}
	approve := decide("approve", "Approve a waiting transition: the tenant's plan switches at once",
		func(ctx context.Context, a *server.App, id uuid.UUID) (transition.Transition, error) {
			return a.Transitions.Approve(ctx, id)
		})
	reject := decide("reject", "Reject a waiting transition: the tenant stays on its plan",
		func(ctx context.Context, a *server.App, id uuid.UUID) (transition.Transition, error) {
			return a.Transitions.Reject(ctx, id, reason)
		})
	reject.Flags().StringVar(&reason, "reason", "", "why (shown to the operator API; required)")
	_ = reject.MarkFlagRequired("reason")
	cmd.AddCommand(list, approve, reject)
	return cmd
}

// addonChanges shows the add-ons a transition subscribes to (+) and cancels
// (-) when it finishes; "-" for none.
func addonChanges(r transition.Request) string {
	var parts []string
	for _, a := range r.SubscribeAddons {
		parts = append(parts, "+"+a)
	}
	for _, a := range r.UnsubscribeAddons {
		parts = append(parts, "-"+a)
	}
	if len(parts) == 0 {
		return "-"
	}
	return strings.Join(parts, ",")
}

// printRequestNotes lists, after the table, what customers asked the
// operator with their transitions: there is no ticket system, so a support
// ticket asked for and the reasons for leaving a plan are shown here (and in
// the operator API). The customers' text is quoted, one line each.
func printRequestNotes(out io.Writer, ts []transition.Transition) error {
	var lines []string
	for _, t := range ts {
		r := t.Request
		if r.SupportTicket || r.SupportTicketInfo != "" {
			lines = append(lines, fmt.Sprintf("%s  support ticket asked for: %t, text: %s", t.ID, r.SupportTicket, strconv.Quote(r.SupportTicketInfo)))
		}
		if r.DeletionReason != "" || r.DeletionFeedback != "" {
			reason := r.DeletionReason
			if reason == "" {
				reason = "(none given)"
			}
			lines = append(lines, fmt.Sprintf("%s  leaving: %s, feedback: %s", t.ID, reason, strconv.Quote(r.DeletionFeedback)))
		}
	}
	if len(lines) == 0 {
		return nil
	}
	_, err := fmt.Fprintf(out, "\nRecorded for the operator (no ticket system is connected; nothing was opened):\n%s\n", strings.Join(lines, "\n"))
	return err
}
