package main

import (
	"bufio"
	"bytes"
	"cmp"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"billing-api/gen/admin"
)

// Import file formats.
const (
	formatJSONL = "jsonl"
	formatCSV   = "csv"
)

// recordFields are the fields of a usage record in an import file: the
// operator API's names, every one required.
var recordFields = []string{"id", "tenant", "namespace", "usage_type", "object_name", "unit", "quantity", "timestamp"}

// maxLineBytes bounds one JSON line (a record is a few hundred bytes).
const maxLineBytes = 1 << 20

// importFormat is the format to read path in: format when given, else what
// the file's extension says.
func importFormat(path, format string) (string, error) {
	switch format {
	case formatJSONL, formatCSV:
		return format, nil
	case "":
	default:
		return "", fmt.Errorf("--format must be %s or %s, not %q", formatJSONL, formatCSV, format)
	}
	if path == "-" {
		return "", errors.New("reading standard input needs --format jsonl or --format csv")
	}
	switch strings.ToLower(filepath.Ext(path)) {
	case ".jsonl", ".ndjson", ".json":
		return formatJSONL, nil
	case ".csv":
		return formatCSV, nil
	}
	return "", fmt.Errorf("cannot tell the format of %s from its extension (.jsonl, .ndjson, .json or .csv): give --format", path)
}

// position is where a record is in its file: the line it starts on, and for
// CSV its row (the header is row 1), which differs from the line only when
// a quoted value spans lines.
type position struct{ line, row int }

func (p position) String() string {
	switch {
	case p.row == 0:
		return fmt.Sprintf("line %d", p.line)
	case p.line == 0 || p.line == p.row:
		return fmt.Sprintf("row %d", p.row)
	default:
		return fmt.Sprintf("row %d (line %d)", p.row, p.line)
	}
}

// number is the row for CSV, else the line.
func (p position) number() int { return cmp.Or(p.row, p.line) }

// recordReader reads an import file one record at a time.
type recordReader interface {
	// next returns the next record, in the operator API's shape, and where
	// it is, or io.EOF after the last. Any other error names the position
	// it is about.
	next() (admin.UsageRecord, position, error)
}

// newRecordReader reads r in format.
func newRecordReader(r io.Reader, format string) (recordReader, error) {
	if format == formatCSV {
		return newCSVReader(r)
	}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), maxLineBytes)
	return &jsonlReader{sc: sc}, nil
}

// ---- JSON lines

// jsonlReader reads one JSON object per line; blank lines are skipped.
type jsonlReader struct {
	sc   *bufio.Scanner
	line int
}

func (j *jsonlReader) next() (admin.UsageRecord, position, error) {
	for j.sc.Scan() {
		j.line++
		pos := position{line: j.line}
		text := j.sc.Bytes()
		if len(bytes.TrimSpace(text)) == 0 {
			continue
		}
		rec, err := parseJSONRecord(text)
		if err != nil {
			return admin.UsageRecord{}, pos, fmt.Errorf("%s: %w", pos, err)
		}
		return rec, pos, nil
	}
	err := j.sc.Err()
	switch {
	case errors.Is(err, bufio.ErrTooLong):
		return admin.UsageRecord{}, position{}, fmt.Errorf("line %d: longer than %d bytes", j.line+1, maxLineBytes)
	case err != nil:
		return admin.UsageRecord{}, position{}, fmt.Errorf("after line %d: %w", j.line, err)
	}
	return admin.UsageRecord{}, position{}, io.EOF
}

// parseJSONRecord reads one line's object, reporting every unknown, missing
// or mistyped field of it.
func parseJSONRecord(text []byte) (admin.UsageRecord, error) {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(text, &obj); err != nil || obj == nil {
		return admin.UsageRecord{}, errors.New("not a JSON object")
	}
	var unknown []string
	for k := range obj {
		if !slices.Contains(recordFields, k) {
			unknown = append(unknown, strconv.Quote(k))
		}
	}
	if len(unknown) > 0 {
		slices.Sort(unknown)
		return admin.UsageRecord{}, fmt.Errorf("unknown field %s (the fields are %s)", strings.Join(unknown, ", "), strings.Join(recordFields, ", "))
	}
	var missing []string
	for _, f := range recordFields {
		if v, ok := obj[f]; !ok || string(v) == "null" {
			missing = append(missing, f)
		}
	}
	if len(missing) > 0 {
		return admin.UsageRecord{}, fmt.Errorf("missing field %s", strings.Join(missing, ", "))
	}
	f := fieldParser{}
	r := admin.UsageRecord{
		Id: f.jsonString(obj, "id"), Tenant: admin.DNSLabel(f.jsonString(obj, "tenant")),
		Namespace: admin.DNSLabel(f.jsonString(obj, "namespace")), UsageType: f.jsonString(obj, "usage_type"),
		ObjectName: f.jsonString(obj, "object_name"), Unit: f.jsonString(obj, "unit"),
	}
	if err := json.Unmarshal(obj["quantity"], &r.Quantity); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) && strings.HasPrefix(te.Value, "number") {
			f.fail("quantity", fmt.Sprintf("%s is out of range", obj["quantity"]))
		} else {
			f.fail("quantity", "must be a JSON number")
		}
	}
	var ts string
	if err := json.Unmarshal(obj["timestamp"], &ts); err != nil {
		f.fail("timestamp", "must be a JSON string holding an RFC 3339 time")
	} else {
		r.Timestamp = f.timestamp(ts)
	}
	return r, f.err()
}

// fieldParser collects the problems of one record's fields.
type fieldParser struct{ problems []string }

func (f *fieldParser) fail(field, msg string) {
	f.problems = append(f.problems, field+": "+msg)
}

func (f *fieldParser) err() error {
	if len(f.problems) == 0 {
		return nil
	}
	return errors.New(strings.Join(f.problems, "; "))
}

func (f *fieldParser) jsonString(obj map[string]json.RawMessage, field string) string {
	var s string
	if err := json.Unmarshal(obj[field], &s); err != nil {
		f.fail(field, "must be a JSON string")
	}
	return s
}

// timestamp reads an RFC 3339 time (fractions of a second allowed).
func (f *fieldParser) timestamp(s string) time.Time {
	s = strings.TrimSpace(s)
	if s == "" {
		f.fail("timestamp", "is empty")
		return time.Time{}
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		f.fail("timestamp", fmt.Sprintf("%q is not an RFC 3339 time (like 2026-03-01T14:00:00Z)", s))
	}
	return t
}

// quantity reads a plain decimal number; NaN, infinities, hexadecimal and
// numbers beyond float64 are refused here, before the batch is sent.
func (f *fieldParser) quantity(s string) float64 {
	s = strings.TrimSpace(s)
	if s == "" {
		f.fail("quantity", "is empty")
		return 0
	}
	if strings.ContainsFunc(s, func(r rune) bool { return !strings.ContainsRune("0123456789.+-eE", r) }) {
		f.fail("quantity", fmt.Sprintf("%q is not a decimal number (NaN and infinities are refused)", s))
		return 0
	}
	q, err := strconv.ParseFloat(s, 64)
	switch {
	case err != nil && errors.Is(err, strconv.ErrRange):
		f.fail("quantity", fmt.Sprintf("%q is out of range", s))
	case err != nil, math.IsNaN(q), math.IsInf(q, 0):
		f.fail("quantity", fmt.Sprintf("%q is not a decimal number", s))
	}
	return q
}

// ---- CSV

// csvReader reads CSV whose header row names the record fields, in any
// order.
type csvReader struct {
	r *csv.Reader
	// column is the index of each record field in a row.
	column map[string]int
	row    int
}

// newCSVReader reads and checks the header row.
func newCSVReader(r io.Reader) (*csvReader, error) {
	cr := csv.NewReader(r)
	cr.ReuseRecord = true
	header, err := cr.Read()
	switch {
	case errors.Is(err, io.EOF):
		return nil, errors.New("the CSV file is empty: it needs a header row naming " + strings.Join(recordFields, ", "))
	case err != nil:
		return nil, fmt.Errorf("CSV header (row 1): %w", err)
	}
	column, err := csvColumns(header)
	if err != nil {
		return nil, err
	}
	cr.FieldsPerRecord = len(header)
	return &csvReader{r: cr, column: column, row: 1}, nil
}

// csvColumns maps the header's names to their columns: every record field
// exactly once, nothing else.
func csvColumns(header []string) (map[string]int, error) {
	column := make(map[string]int, len(header))
	var unknown, repeated []string
	for i, name := range header {
		if i == 0 {
			name = strings.TrimPrefix(name, "\ufeff") // a spreadsheet's byte order mark
		}
		name = strings.TrimSpace(name)
		switch _, seen := column[name]; {
		case !slices.Contains(recordFields, name):
			unknown = append(unknown, strconv.Quote(name))
		case seen:
			repeated = append(repeated, name)
		default:
			column[name] = i
		}
	}
	var missing []string
	for _, f := range recordFields {
		if _, ok := column[f]; !ok {
			missing = append(missing, f)
		}
	}
	var problems []string
	if len(unknown) > 0 {
		problems = append(problems, "unknown column "+strings.Join(unknown, ", "))
	}
	if len(repeated) > 0 {
		problems = append(problems, "repeated column "+strings.Join(repeated, ", "))
	}
	if len(missing) > 0 {
		problems = append(problems, "missing column "+strings.Join(missing, ", "))
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("CSV header (row 1): %s; the columns are %s, in any order",
			strings.Join(problems, "; "), strings.Join(recordFields, ", "))
	}
	return column, nil
}

func (c *csvReader) next() (admin.UsageRecord, position, error) {
	row, err := c.r.Read()
	if errors.Is(err, io.EOF) {
		return admin.UsageRecord{}, position{}, io.EOF
	}
	c.row++
	pos := position{row: c.row}
	if err != nil {
		var pe *csv.ParseError
		if errors.As(err, &pe) {
			pos.line = pe.StartLine
		}
		return admin.UsageRecord{}, pos, fmt.Errorf("%s: %w", pos, err)
	}
	pos.line, _ = c.r.FieldPos(0)
	get := func(field string) string { return row[c.column[field]] }
	f := fieldParser{}
	rec := admin.UsageRecord{
		Id: get("id"), Tenant: admin.DNSLabel(get("tenant")), Namespace: admin.DNSLabel(get("namespace")),
		UsageType: get("usage_type"), ObjectName: get("object_name"), Unit: get("unit"),
		Quantity: f.quantity(get("quantity")), Timestamp: f.timestamp(get("timestamp")),
	}
	if err := f.err(); err != nil {
		return admin.UsageRecord{}, pos, fmt.Errorf("%s: %w", pos, err)
	}
	return rec, pos, nil
}
