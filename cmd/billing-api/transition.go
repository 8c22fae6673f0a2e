package main

import (
	"context"
	"fmt"
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
				fmt.Fprintln(w, "ID\tTENANT ID\tFROM\tTO\tSTATE\tCREATED\tREASON")
				for _, t := range ts {
					fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", t.ID, t.TenantID, t.FromPlan, t.ToPlan, t.State, t.CreatedAt.Format(time.RFC3339), t.Reason)
				}
				return w.Flush()
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
