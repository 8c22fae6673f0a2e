package main

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"billing-api/server"
	"billing-api/server/usage"
)

// newUsageCommand is `usage`: the operator's side of metering.
func newUsageCommand(g *globalConfig) *cobra.Command {
	cmd := &cobra.Command{Use: "usage", Short: "Import usage records; rotate the breakdown-query signing key"}
	cmd.AddCommand(newUsageImportCommand(g), newRotateQueryKeyCommand(g))
	return cmd
}

// newUsageImportCommand is `usage import FILE`.
func newUsageImportCommand(g *globalConfig) *cobra.Command {
	opts := importOptions{}
	cmd := &cobra.Command{
		Use:   "import FILE",
		Short: "Ingest usage records from a JSON lines or CSV file (- for standard input)",
		Long: `Reads usage records from FILE (- for standard input) and ingests them in batches,
exactly as the operator API's POST /admin/v1/usage_records does: each batch is
checked as a whole and stored in one transaction, or refused entirely.

Every record has the fields id, tenant, namespace, usage_type, object_name,
unit, quantity (a decimal number in the usage type's unit) and timestamp (an
RFC 3339 time). In JSON lines (.jsonl, .ndjson, .json) each line holds one
object with exactly these fields; blank lines are skipped. In CSV (.csv) the
header row names these columns, in any order, and nothing else. Standard input
needs --format.

The file is read as a stream, never held in memory. The first problem stops the
import with a non-zero exit status: a line that does not parse is named by its
line (CSV: its row, the header being row 1), and a batch the service refuses is
reported field by field, each translated to its line. Batches stored before
the stop stay stored. Running the same import again is safe: a record is
identified by its tenant and id, and one already stored counts as a duplicate
and changes nothing.

With --dry-run every batch is checked and counted as for real, then rolled
back: nothing is stored. Each batch is counted against what is stored, so a
record repeated in two batches of one file counts as accepted twice.

A progress bar is shown on standard error when it is a terminal; the summary
line goes to standard output.`,
		Example: `  billing-api usage import usage-2026-03.jsonl
  billing-api usage import --dry-run --batch-size 5000 export.csv
  gzip -dc usage.jsonl.gz | billing-api usage import --format jsonl -`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return importUsage(cmd, g, args[0], opts)
		},
	}
	cmd.Flags().StringVar(&opts.format, "format", "", "jsonl or csv; default from FILE's extension (.jsonl, .ndjson, .json, .csv)")
	cmd.Flags().IntVar(&opts.batchSize, "batch-size", 1000, fmt.Sprintf("records per batch (at most %d); each batch is one transaction", usage.MaxBatchRecords))
	cmd.Flags().BoolVar(&opts.dryRun, "dry-run", false, "check and count everything, store nothing")
	return cmd
}

// importUsage runs `usage import`: the flags and the file are checked before
// the store is opened.
func importUsage(cmd *cobra.Command, g *globalConfig, path string, opts importOptions) error {
	if opts.batchSize < 1 || opts.batchSize > usage.MaxBatchRecords {
		return fmt.Errorf("--batch-size must be 1 to %d, not %d", usage.MaxBatchRecords, opts.batchSize)
	}
	format, err := importFormat(path, opts.format)
	if err != nil {
		return err
	}
	in, size, closeInput, err := openInput(path, cmd.InOrStdin())
	if err != nil {
		return err
	}
	defer closeInput()
	return withApp(cmd, g, func(ctx context.Context, a *server.App) error {
		prog := newProgress(cmd.ErrOrStderr(), size)
		src, err := newRecordReader(prog.reader(in), format)
		if err != nil {
			prog.finish()
			return err
		}
		im := newImporter(a.Usage.Ingest, opts, format)
		err = im.run(ctx, src, prog)
		prog.finish()
		if err != nil {
			return err
		}
		fmt.Fprintln(cmd.OutOrStdout(), im.stats.summary(opts.dryRun))
		return nil
	})
}

// openInput opens path ("-": stdin) and tells its size when it is a regular
// file (-1 otherwise, a pipe say).
func openInput(path string, stdin io.Reader) (in io.Reader, size int64, closeFn func(), err error) {
	if path == "-" {
		return stdin, fileSize(stdin), func() {}, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, 0, nil, fmt.Errorf("opening the import file: %w", err)
	}
	return f, fileSize(f), func() { _ = f.Close() }, nil // read-only: Close reports nothing useful
}

// fileSize is r's size when it is a regular file, else -1.
func fileSize(r io.Reader) int64 {
	f, ok := r.(*os.File)
	if !ok {
		return -1
	}
	st, err := f.Stat()
	if err != nil || !st.Mode().IsRegular() {
		return -1
	}
	return st.Size()
}

// newRotateQueryKeyCommand is `usage rotate-query-key`.
func newRotateQueryKeyCommand(g *globalConfig) *cobra.Command {
	var retireOld bool
	cmd := &cobra.Command{
		Use:   "rotate-query-key",
		Short: "Sign new breakdown queries with a new key (--retire-old: make older ones fail)",
		Long: `Adds a new key for signing the hourly_breakdown_query of usage lines; queries
are signed with it from now on. Queries signed with older keys keep working
unless --retire-old, which makes them fail at once on this store's servers
(within a second on replicas that cached the keys): clients then ask
usage_details for fresh queries. The same as the operator API's
POST /admin/v1/usage_query_keys.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withApp(cmd, g, func(ctx context.Context, a *server.App) error {
				k, retired, err := a.Usage.RotateSigningKey(ctx, retireOld)
				if err != nil {
					return fmt.Errorf("rotating the query signing key: %w", err)
				}
				fmt.Fprintf(cmd.OutOrStdout(), "new query signing key %d; %s retired\n", k.ID, plural(retired, "older key", "older keys"))
				return nil
			})
		},
	}
	cmd.Flags().BoolVar(&retireOld, "retire-old", false, "retire every older key: queries they signed stop working")
	return cmd
}
