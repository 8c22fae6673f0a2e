package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"billing-api/server"
	"billing-api/server/fault"
	"billing-api/server/invoice"
	"billing-api/server/money"
	"billing-api/server/period"
)

// newInvoicesCommand is the operator's side of invoicing: close a month,
// read invoices and move them between statuses (the operator API's
// /admin/v1/invoices does the same). The scheduler runs only in serve.
func newInvoicesCommand(g *globalConfig) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "invoices",
		Short: "Close billing months; list, show, collect, pay, refund and cancel invoices",
		Long: `Invoices are issued when a calendar month (UTC) is closed: by the scheduler in
every serve process once the month has ended and its grace period has passed, or
with "invoices close". Closing a month again issues nothing new, so an interrupted
close can be repeated.`,
	}
	cmd.AddCommand(
		newInvoicesCloseCommand(g), newInvoicesListCommand(g), newInvoicesShowCommand(g),
		newInvoicesPDFCommand(g), newInvoicesRunsCommand(g),
	)
	cmd.AddCommand(newInvoiceActionCommands(g)...)
	return cmd
}

func newInvoicesCloseCommand(g *globalConfig) *cobra.Command {
	var period, tenantName string
	cmd := &cobra.Command{
		Use:   "close --period YYYY-MM [--tenant NAME]",
		Short: "Close an ended month for every tenant (or one): issue and collect its invoices",
		Long: `Closes the month for every tenant that existed before it ended (or for --tenant):
each gets its invoice, or none when nothing was billed, which is then charged to
its PRIMARY payment method and, if that is declined, its SECONDARY. Prints one
line per tenant and a summary; exits non-zero when any tenant failed (closing
the month again retries those).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			p, err := invoice.PeriodOf("--period", period)
			if err != nil {
				return err
			}
			return withApp(cmd, g, func(ctx context.Context, a *server.App) error {
				res, err := a.Invoices.ClosePeriod(ctx, p, tenantName)
				if err != nil {
					return err
				}
				return printClose(cmd.OutOrStdout(), p, res, a.Invoices.Now())
			})
		},
	}
	cmd.Flags().StringVar(&period, "period", "", "the month to close, YYYY-MM (required)")
	cmd.Flags().StringVar(&tenantName, "tenant", "", "close it for this tenant only")
	_ = cmd.MarkFlagRequired("period")
	return cmd
}

// printClose writes one line per tenant and the counts; it fails when a
// tenant did.
func printClose(out io.Writer, m period.Month, res []invoice.TenantClose, now time.Time) error {
	w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "TENANT\tOUTCOME\tINVOICE\tSTATUS\tTOTAL\tERROR")
	counts := map[invoice.CloseOutcome]int{}
	for _, r := range res {
		counts[r.Outcome]++
		number, status, total, problem := "-", "-", "-", "-"
		if r.Invoice != nil {
			number, status, total = r.Invoice.Number, string(r.Invoice.StatusAt(now)), money.Format(r.Invoice.Total, r.Invoice.Currency)
		}
		if r.Err != nil {
			problem = fault.Detail(r.Err)
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\n", r.Tenant, r.Outcome, number, status, total, problem)
	}
	if err := w.Flush(); err != nil {
		return err
	}
	failed := counts[invoice.ClosedFailed]
	fmt.Fprintf(out, "%s: %d tenants, %d issued, %d already invoiced, %d with nothing to bill, %d failed\n",
		m, len(res), counts[invoice.ClosedIssued], counts[invoice.ClosedExisting],
		counts[invoice.ClosedNothingToBill], failed)
	if failed > 0 {
		return fmt.Errorf("%d of %d tenants failed to close %s; run the same close again to retry them",
			failed, len(res), m)
	}
	return nil
}

// invoiceStatuses are the statuses list selects by.
var invoiceStatuses = []invoice.Status{invoice.StatusIssued, invoice.StatusOverdue, invoice.StatusPaid, invoice.StatusRefunded, invoice.StatusCancelled}

func newInvoicesListCommand(g *globalConfig) *cobra.Command {
	var tenantName, period, status string
	var limit int
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List issued invoices, newest month first",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			f := invoice.Filter{Status: invoice.Status(strings.ToUpper(status)), Limit: limit}
			var v fault.Violations
			if f.Status != "" && !slices.Contains(invoiceStatuses, f.Status) {
				v.Add("--status", "enum", "must be ISSUED, OVERDUE, PAID, REFUNDED or CANCELLED")
			}
			if limit < 0 {
				v.Add("--limit", "minimum", "must be 0 (all) or more")
			}
			if period != "" {
				p, err := invoice.PeriodOf("--period", period)
				if err != nil {
					return err
				}
				f.Period = &p
			}
			if err := v.Err(); err != nil {
				return err
			}
			return withApp(cmd, g, func(ctx context.Context, a *server.App) error {
				invs, err := a.Invoices.Find(ctx, tenantName, f)
				if err != nil {
					return err
				}
				names, err := a.TenantNames(ctx, invs)
				if err != nil {
					return err
				}
				now := a.Invoices.Now()
				w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
				fmt.Fprintln(w, "TENANT\tNUMBER\tPERIOD\tSTATUS\tTOTAL\tISSUED\tDUE\tROUND")
				for _, inv := range invs {
					fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", names[inv.TenantID], inv.Number,
						inv.Period, inv.StatusAt(now), money.Format(inv.Total, inv.Currency),
						inv.IssuedAt.Format(time.RFC3339), inv.DueAt.Format(time.RFC3339), round(inv))
				}
				return w.Flush()
			})
		},
	}
	cmd.Flags().StringVar(&tenantName, "tenant", "", "only this tenant's invoices")
	cmd.Flags().StringVar(&period, "period", "", "only invoices of this month (YYYY-MM)")
	cmd.Flags().StringVar(&status, "status", "", "only invoices in this status now: ISSUED, OVERDUE, PAID, REFUNDED or CANCELLED")
	cmd.Flags().IntVar(&limit, "limit", 100, "the most invoices to list; 0 lists all")
	return cmd
}

// round is the collection round, marked while it is under way.
func round(inv invoice.Invoice) string {
	if inv.Collecting {
		return fmt.Sprintf("%d (collecting)", inv.Round)
	}
	return fmt.Sprint(inv.Round)
}

func newInvoicesShowCommand(g *globalConfig) *cobra.Command {
	return &cobra.Command{
		Use:   "show TENANT NUMBER",
		Short: "Show an invoice: its lines, every payment record and the usage that arrived late",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withApp(cmd, g, func(ctx context.Context, a *server.App) error {
				d, err := a.Invoices.Detail(ctx, args[0], args[1])
				if err != nil {
					return err
				}
				return printDetail(cmd.OutOrStdout(), a, d)
			})
		},
	}
}

func printDetail(out io.Writer, a *server.App, d invoice.Detail) error {
	inv := d.Invoice
	format := func(a money.Amount) string { return money.Format(a, inv.Currency) }
	w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintf(w, "Invoice:\t%s\n", inv.Number)
	fmt.Fprintf(w, "Tenant:\t%s\n", d.Tenant)
	fmt.Fprintf(w, "Period:\t%s (%s to %s)\n", inv.Period,
		inv.Period.Start().Format(time.RFC3339), inv.Period.End().Format(time.RFC3339))
	fmt.Fprintf(w, "Status:\t%s since %s: %s\n", inv.StatusAt(a.Invoices.Now()), inv.StatusSince.Format(time.RFC3339), inv.StatusReason)
	fmt.Fprintf(w, "Issued:\t%s, due %s\n", inv.IssuedAt.Format(time.RFC3339), inv.DueAt.Format(time.RFC3339))
	fmt.Fprintf(w, "Collection round:\t%s\n", round(inv))
	fmt.Fprintf(w, "Subtotal:\t%s\n", format(inv.Subtotal))
	fmt.Fprintf(w, "Discount:\t%s\n", format(inv.Discount))
	fmt.Fprintf(w, "Total:\t%s\n", format(inv.Total))
	if err := w.Flush(); err != nil {
		return err
	}

	fmt.Fprintln(out, "\nLines:")
	w = tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "KIND\tDESCRIPTION\tQUANTITY\tUNIT PRICE\tAMOUNT")
	for _, l := range inv.Lines {
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", l.Kind, l.Description, l.Quantity, format(l.UnitPrice), format(l.Amount))
	}
	if err := w.Flush(); err != nil {
		return err
	}

	fmt.Fprintln(out, "\nPayments:")
	if len(d.Payments) == 0 {
		fmt.Fprintln(out, "none")
	} else {
		w = tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
		fmt.Fprintln(w, "KIND\tROUND\tMETHOD\tROLE\tAMOUNT\tOUTCOME\tREFERENCE\tCREATED\tFINISHED\tDETAIL")
		for _, p := range d.Payments {
			finished := "-"
			if p.FinishedAt != nil {
				finished = p.FinishedAt.Format(time.RFC3339)
			}
			fmt.Fprintf(w, "%s\t%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", p.Kind, p.Round, p.MethodName, p.MethodRole, format(p.Amount),
				p.Outcome, dash(p.Reference), p.CreatedAt.Format(time.RFC3339), finished, dash(p.Detail))
		}
		if err := w.Flush(); err != nil {
			return err
		}
	}

	fmt.Fprintln(out, "\nUsage that arrived after the invoice was issued (not billed):")
	if len(d.Late) == 0 {
		fmt.Fprintln(out, "none")
		return nil
	}
	types := a.Usage.Types()
	w = tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "USAGE TYPE\tQUANTITY\tUNIT")
	for _, name := range slices.Sorted(maps.Keys(d.Late)) {
		fmt.Fprintf(w, "%s\t%s\t%s\n", name, d.Late[name], types[name].Unit)
	}
	return w.Flush()
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// newInvoiceActionCommands are the status moves an operator makes: each
// prints the invoice's status afterwards.
func newInvoiceActionCommands(g *globalConfig) []*cobra.Command {
	var reference, refundReason, cancelReason string
	action := func(use, short string, do func(ctx context.Context, a *server.App, tenant, number string) (invoice.Invoice, error)) *cobra.Command {
		return &cobra.Command{
			Use: use + " TENANT NUMBER", Short: short, Args: cobra.ExactArgs(2),
			RunE: func(cmd *cobra.Command, args []string) error {
				return withApp(cmd, g, func(ctx context.Context, a *server.App) error {
					inv, err := do(ctx, a, args[0], args[1])
					if err != nil {
						return err
					}
					fmt.Fprintf(cmd.OutOrStdout(), "invoice %s of %s is %s (%s), collection round %s\n",
						inv.Number, args[0], inv.StatusAt(a.Invoices.Now()), inv.StatusReason, round(inv))
					return nil
				})
			},
		}
	}
	retry := action("retry", "Collect an unpaid invoice again: PRIMARY, then SECONDARY",
		func(ctx context.Context, a *server.App, tenant, number string) (invoice.Invoice, error) {
			return a.Invoices.Retry(ctx, tenant, number)
		})
	pay := action("pay", "Mark an unpaid invoice paid by a payment received outside the provider",
		func(ctx context.Context, a *server.App, tenant, number string) (invoice.Invoice, error) {
			return a.Invoices.RecordPayment(ctx, tenant, number, reference)
		})
	pay.Flags().StringVar(&reference, "reference", "", "what identifies the payment (a bank transfer's reference, say; required)")
	_ = pay.MarkFlagRequired("reference")
	refund := action("refund", "Refund a paid invoice (through the provider when it charged it)",
		func(ctx context.Context, a *server.App, tenant, number string) (invoice.Invoice, error) {
			return a.Invoices.Refund(ctx, tenant, number, refundReason)
		})
	refund.Flags().StringVar(&refundReason, "reason", "", "why; kept as the invoice's status reason")
	cancel := action("cancel", "Cancel an unpaid invoice; its month stays closed",
		func(ctx context.Context, a *server.App, tenant, number string) (invoice.Invoice, error) {
			return a.Invoices.Cancel(ctx, tenant, number, cancelReason)
		})
	cancel.Flags().StringVar(&cancelReason, "reason", "", "why; kept as the invoice's status reason")
	return []*cobra.Command{retry, pay, refund, cancel}
}

func newInvoicesPDFCommand(g *globalConfig) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "pdf TENANT NUMBER [-o FILE]",
		Short: "Write an invoice's PDF, as the tenant downloads it, to FILE or standard output",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withApp(cmd, g, func(ctx context.Context, a *server.App) error {
				doc, err := a.Invoices.PDF(ctx, args[0], args[1])
				if err != nil {
					return err
				}
				if output == "" || output == "-" {
					_, err := cmd.OutOrStdout().Write(doc)
					return err
				}
				if err := os.WriteFile(output, doc, 0o644); err != nil {
					return err
				}
				fmt.Fprintf(cmd.ErrOrStderr(), "wrote %s (%d bytes)\n", output, len(doc))
				return nil
			})
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "", "the file to write; standard output when omitted or -")
	return cmd
}

func newInvoicesRunsCommand(g *globalConfig) *cobra.Command {
	var limit int
	cmd := &cobra.Command{
		Use:   "runs",
		Short: "List the months closed in the background, newest first",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if limit < 1 {
				return errors.New("--limit must be 1 or more")
			}
			return withApp(cmd, g, func(ctx context.Context, a *server.App) error {
				runs, err := a.Invoices.Runs(ctx, limit)
				if err != nil {
					return err
				}
				w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
				fmt.Fprintln(w, "PERIOD\tSTARTED BY\tSTARTED\tFINISHED\tISSUED\tFAILED")
				for _, r := range runs {
					finished := "-"
					if r.FinishedAt != nil {
						finished = r.FinishedAt.Format(time.RFC3339)
					}
					fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%d\t%d\n", r.Period, r.Owner,
						r.StartedAt.Format(time.RFC3339), finished, r.Issued, r.Failed)
				}
				return w.Flush()
			})
		},
	}
	cmd.Flags().IntVar(&limit, "limit", 100, "the most runs to list")
	return cmd
}
