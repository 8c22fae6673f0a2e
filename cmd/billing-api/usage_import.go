package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"billing-api/server"
	"billing-api/server/fault"
	"billing-api/server/usage"
)

// importOptions are the flags of `usage import`.
type importOptions struct {
	format    string
	batchSize int
	dryRun    bool
}

// ingestFunc is usage.Service.Ingest: the one way records are stored, for
// the operator API and the import alike.
type ingestFunc func(ctx context.Context, in []usage.RecordInput, dryRun bool) (usage.IngestResult, error)

// importStats counts an import as it goes.
type importStats struct {
	// read counts the records parsed; batches and the result count the
	// batches Ingest took (in a dry run: checked) and what they did.
	read, batches int
	usage.IngestResult
	started time.Time
}

// summary is the line printed when the import is done.
func (s importStats) summary(dryRun bool) string {
	elapsed := time.Since(s.started)
	rate := 0.0
	if elapsed > 0 {
		rate = float64(s.read) / elapsed.Seconds()
	}
	line := fmt.Sprintf("%s read: %d accepted, %d duplicates, %d late, in %s; %s elapsed, %.0f records/s",
		plural(s.read, "record", "records"), s.Accepted, s.Duplicates, s.Late, plural(s.batches, "batch", "batches"),
		elapsed.Round(time.Millisecond), rate)
	if dryRun {
		line += "; dry run: nothing was stored"
	}
	return line
}

// importer sends records to Ingest in batches and remembers where in the
// file each record of the pending batch came from.
type importer struct {
	ingest ingestFunc
	opts   importOptions
	// unit is what a position counts: lines (JSON lines) or rows (CSV).
	unit  string
	batch []usage.RecordInput
	where []position
	stats importStats
}

// newImporter returns an importer of a file in format that hands batches
// to ingest.
func newImporter(ingest ingestFunc, opts importOptions, format string) *importer {
	unit := "lines"
	if format == formatCSV {
		unit = "rows"
	}
	return &importer{
		ingest: ingest, opts: opts, unit: unit,
		batch: make([]usage.RecordInput, 0, opts.batchSize), where: make([]position, 0, opts.batchSize),
	}
}

// run reads src to the end, ingesting a batch whenever one is full and the
// rest at the end. It stops at the first record that does not parse and at
// the first batch that fails; the error says what was stored before.
func (im *importer) run(ctx context.Context, src recordReader, prog *progress) error {
	im.stats.started = time.Now()
	for {
		rec, pos, err := src.next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return im.stopped(err, nil)
		}
		im.stats.read++
		prog.record()
		// The operator API's mapping, so a file means what the same
		// records posted to /admin/v1/usage_records mean.
		im.batch = append(im.batch, server.UsageInputFromAdmin(rec))
		im.where = append(im.where, pos)
		if len(im.batch) == im.opts.batchSize {
			if err := im.flush(ctx); err != nil {
				return err
			}
		}
	}
	if len(im.batch) > 0 {
		return im.flush(ctx)
	}
	return nil
}

// flush ingests the pending batch.
func (im *importer) flush(ctx context.Context) error {
	res, err := im.ingest(ctx, im.batch, im.opts.dryRun)
	if err != nil {
		span := fmt.Sprintf("batch %d (%s %d-%d)", im.stats.batches+1, im.unit, im.where[0].number(), im.where[len(im.where)-1].number())
		if details, ok := im.translate(err); ok {
			return im.stopped(fmt.Errorf("%s was refused, none of it was stored", span), details)
		}
		return im.stopped(fmt.Errorf("%s: %w", span, err), nil)
	}
	im.stats.batches++
	im.stats.Accepted += res.Accepted
	im.stats.Duplicates += res.Duplicates
	im.stats.Late += res.Late
	im.batch, im.where = im.batch[:0], im.where[:0]
	return nil
}

// recordField matches a batch's field path: records[12].unit.
var recordField = regexp.MustCompile(`^records\[(\d+)\](?:\.(.+))?$`)

// translate turns Ingest's refusal of the pending batch, which names fields
// as records[i].field, into one line per problem naming the input's line
// (or row), in file order. ok is false for other errors.
func (im *importer) translate(err error) (details []string, ok bool) {
	var fe *fault.Error
	if !errors.As(err, &fe) || fe.Kind != fault.KindInvalid || len(fe.Fields) == 0 {
		return nil, false
	}
	type detail struct {
		at   int // index in the batch; -1 for a problem of the whole batch
		text string
	}
	ds := make([]detail, 0, len(fe.Fields))
	for _, f := range fe.Fields {
		m := recordField.FindStringSubmatch(f.Field)
		i := -1
		if m != nil {
			i, _ = strconv.Atoi(m[1]) // the pattern's digits
		}
		if i < 0 || i >= len(im.where) {
			ds = append(ds, detail{-1, f.String()})
			continue
		}
		f.Field = cmp.Or(m[2], "record")
		ds = append(ds, detail{i, im.where[i].String() + ": " + f.String()})
	}
	slices.SortStableFunc(ds, func(a, b detail) int { return cmp.Compare(a.at, b.at) })
	for _, d := range ds {
		details = append(details, d.text)
	}
	return details, true
}

// stopped is the error of an import that stopped for cause.
func (im *importer) stopped(cause error, details []string) error {
	return &importError{cause: cause, details: details, stats: im.stats, dryRun: im.opts.dryRun}
}

// importError is an import that stopped: why, each problem of a refused
// batch, and what the batches before it did.
type importError struct {
	cause   error
	details []string
	stats   importStats
	dryRun  bool
}

func (e *importError) Error() string {
	var b strings.Builder
	b.WriteString(e.cause.Error())
	for _, d := range e.details {
		b.WriteString("\n  " + d)
	}
	b.WriteString("\n")
	s := e.stats
	switch {
	case e.dryRun:
		fmt.Fprintf(&b, "dry run: nothing was stored (%s checked before the stop)", plural(s.batches, "batch", "batches"))
	case s.batches == 0:
		b.WriteString("nothing was stored")
	default:
		fmt.Fprintf(&b, "stored before the stop: %s (%d records accepted, %d duplicates, %d late); "+
			"after fixing the file, import it again: records already stored count as duplicates and change nothing",
			plural(s.batches, "batch", "batches"), s.Accepted, s.Duplicates, s.Late)
	}
	return b.String()
}

func (e *importError) Unwrap() error { return e.cause }

// plural is n with the noun's singular or plural form.
func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return strconv.Itoa(n) + " " + many
}
