package main

import (
	"context"
	"fmt"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/google/uuid"
	"github.com/spf13/cobra"

	"billing-api/server"
	"billing-api/server/plan"
	"billing-api/server/tenancy"
)

func newRootCommand() *cobra.Command {
	g := &globalConfig{}
	root := &cobra.Command{
		Use:   "billing-api",
		Short: "The F5 Distributed Cloud Billing and Usage API, for many tenants, on a real database",
		Long: `billing-api serves the Billing and Usage API (quotas, metering, plans, add-ons,
payment methods, invoices) and carries the operator commands, which work on the
same store the server uses.

The store is PostgreSQL when DATABASE_URL is set, else an embedded SQLite file.
Every flag can also be set by the environment variable shown in its help.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			return applyEnvironment(cmd.Flags(), os.LookupEnv)
		},
	}
	g.bind(root.PersistentFlags())
	root.AddCommand(
		newServeCommand(g),
		newMigrateCommand(g),
		newTenantCommand(g),
		newNamespaceCommand(g),
		newTokenCommand(g),
		newUsageCommand(g),
		newTransitionCommand(g),
		newInvoicesCommand(g),
		newJobsCommand(g),
	)
	return root
}

// openApp loads the plan catalogue and opens the wired service on the
// configured store (migrated to the newest schema).
func openApp(ctx context.Context, g *globalConfig, extra func(*server.Config)) (*server.App, error) {
	log, err := g.logger()
	if err != nil {
		return nil, err
	}
	cat, err := loadCatalogue(g.planCatalogue)
	if err != nil {
		return nil, err
	}
	cfg := server.Config{Store: g.store, Catalogue: cat, Logger: log}
	if extra != nil {
		extra(&cfg)
	}
	return server.Open(ctx, cfg)
}

// loadCatalogue reads the operator's plan catalogue, or the embedded one.
func loadCatalogue(path string) (*plan.Catalogue, error) {
	if path == "" {
		return plan.Embedded()
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("--plan-catalogue: %w", err)
	}
	cat, err := plan.Load(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return cat, nil
}

func newMigrateCommand(g *globalConfig) *cobra.Command {
	return &cobra.Command{
		Use:   "migrate",
		Short: "Bring the database schema to the newest version (serve does this on start-up too)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			a, err := openApp(cmd.Context(), g, nil)
			if err != nil {
				return err
			}
			defer a.Close()
			v, err := a.DB.SchemaVersion(cmd.Context())
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s database at schema version %s\n", a.DB.Dialect(), v)
			return nil
		},
	}
}

func newTenantCommand(g *globalConfig) *cobra.Command {
	cmd := &cobra.Command{Use: "tenant", Short: "Create and list tenants; manage their limit overrides"}
	var display string
	create := &cobra.Command{
		Use:   "create NAME",
		Short: "Create a tenant (with its system namespace)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withApp(cmd, g, func(ctx context.Context, a *server.App) error {
				t, err := a.Tenancy.CreateTenant(ctx, tenancy.CreateTenantInput{Name: args[0], DisplayName: display})
				if err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "created tenant %s (%s)\n", t.Name, t.ID)
				return nil
			})
		},
	}
	create.Flags().StringVar(&display, "display-name", "", "name for people (shown on invoices)")
	list := &cobra.Command{
		Use:   "list",
		Short: "List tenants",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withApp(cmd, g, func(ctx context.Context, a *server.App) error {
				ts, err := a.Tenancy.ListTenants(ctx)
				if err != nil {
					return err
				}
				w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
				fmt.Fprintln(w, "NAME\tDISPLAY NAME\tID\tCREATED")
				for _, t := range ts {
					fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", t.Name, t.DisplayName, t.ID, t.CreatedAt.Format(time.RFC3339))
				}
				return w.Flush()
			})
		},
	}
	cmd.AddCommand(create, list, newLimitsCommand(g))
	return cmd
}

func newNamespaceCommand(g *globalConfig) *cobra.Command {
	cmd := &cobra.Command{Use: "namespace", Short: "Create and list a tenant's namespaces"}
	var tenantName string
	create := &cobra.Command{
		Use:   "create NAME",
		Short: "Add a namespace to a tenant",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withApp(cmd, g, func(ctx context.Context, a *server.App) error {
				ns, err := a.Tenancy.CreateNamespace(ctx, tenantName, args[0])
				if err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "created namespace %s in tenant %s\n", ns.Name, tenantName)
				return nil
			})
		},
	}
	list := &cobra.Command{
		Use:   "list",
		Short: "List a tenant's namespaces",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withApp(cmd, g, func(ctx context.Context, a *server.App) error {
				nss, err := a.Tenancy.ListNamespaces(ctx, tenantName)
				if err != nil {
					return err
				}
				for _, ns := range nss {
					fmt.Fprintln(cmd.OutOrStdout(), ns.Name)
				}
				return nil
			})
		},
	}
	for _, c := range []*cobra.Command{create, list} {
		c.Flags().StringVar(&tenantName, "tenant", "", "the tenant's name (required)")
		_ = c.MarkFlagRequired("tenant")
	}
	cmd.AddCommand(create, list)
	return cmd
}

func newTokenCommand(g *globalConfig) *cobra.Command {
	cmd := &cobra.Command{Use: "token", Short: "Issue, list and revoke a tenant's API tokens"}
	var (
		tenantName string
		name       string
		role       string
		namespaces []string
	)
	create := &cobra.Command{
		Use:   "create",
		Short: "Issue an API token; its secret is printed once and cannot be shown again",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withApp(cmd, g, func(ctx context.Context, a *server.App) error {
				tok, secret, err := a.Tenancy.IssueToken(ctx, tenancy.IssueTokenInput{
					TenantName: tenantName, Name: name, Role: tenancy.Role(role), Namespaces: namespaces,
				})
				if err != nil {
					return err
				}
				fmt.Fprintf(cmd.ErrOrStderr(), "issued %s token %q (%s) for tenant %s; store the secret now, it is not kept:\n",
					tok.Role, tok.Name, tok.ID, tenantName)
				fmt.Fprintln(cmd.OutOrStdout(), secret)
				return nil
			})
		},
	}
	create.Flags().StringVar(&name, "name", "", "what the token is for (required)")
	create.Flags().StringVar(&role, "role", "admin", "admin (everything) or viewer (reads only)")
	create.Flags().StringSliceVar(&namespaces, "namespace", nil, "limit the token to these namespaces (repeat or comma-separate); default all")
	_ = create.MarkFlagRequired("name")
	list := &cobra.Command{
		Use:   "list",
		Short: "List a tenant's tokens (never their secrets)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withApp(cmd, g, func(ctx context.Context, a *server.App) error {
				toks, err := a.Tenancy.ListTokens(ctx, tenantName)
				if err != nil {
					return err
				}
				w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
				fmt.Fprintln(w, "ID\tNAME\tROLE\tNAMESPACES\tPREFIX\tCREATED\tREVOKED")
				for _, t := range toks {
					ns := strings.Join(t.Namespaces, ",")
					if ns == "" {
						ns = "*"
					}
					revoked := "-"
					if t.RevokedAt != nil {
						revoked = t.RevokedAt.Format(time.RFC3339)
					}
					fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", t.ID, t.Name, t.Role, ns, t.Prefix, t.CreatedAt.Format(time.RFC3339), revoked)
				}
				return w.Flush()
			})
		},
	}
	revoke := &cobra.Command{
		Use:   "revoke TOKEN_ID",
		Short: "Revoke a token; it stops authenticating at once",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := uuid.Parse(args[0])
			if err != nil {
				return fmt.Errorf("TOKEN_ID: %w", err)
			}
			return withApp(cmd, g, func(ctx context.Context, a *server.App) error {
				tok, err := a.Tenancy.RevokeToken(ctx, tenantName, id)
				if err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "revoked token %q (%s)\n", tok.Name, tok.ID)
				return nil
			})
		},
	}
	for _, c := range []*cobra.Command{create, list, revoke} {
		c.Flags().StringVar(&tenantName, "tenant", "", "the tenant's name (required)")
		_ = c.MarkFlagRequired("tenant")
	}
	cmd.AddCommand(create, list, revoke)
	return cmd
}

func withApp(cmd *cobra.Command, g *globalConfig, fn func(ctx context.Context, a *server.App) error) error {
	a, err := openApp(cmd.Context(), g, nil)
	if err != nil {
		return err
	}
	defer a.Close()
	return fn(cmd.Context(), a)
}

// stdout is where serve prints its banner.
var stdout = os.Stdout
