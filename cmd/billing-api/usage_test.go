package main

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// runInput is run with stdin reading input.
func runInput(t *testing.T, env []string, input string, args ...string) (string, string, error) {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Env = env
	cmd.Stdin = strings.NewReader(input)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	return out.String(), errOut.String(), err
}

// meteredTenant is a store with tenant acme and its namespace shop.
func meteredTenant(t *testing.T) []string {
	t.Helper()
	env := storeEnv(t)
	mustRun(t, env, "tenant", "create", "acme")
	mustRun(t, env, "namespace", "create", "--tenant", "acme", "shop")
	return env
}

// testRecords are n load balancer request records of acme/shop, one per
// hour back from the current one, with ids prefix-0, prefix-1, ...
func testRecords(n int, prefix string) []map[string]any {
	now := time.Now().UTC().Truncate(time.Hour)
	recs := make([]map[string]any, n)
	for i := range recs {
		recs[i] = map[string]any{
			"id": fmt.Sprintf("%s-%d", prefix, i), "tenant": "acme", "namespace": "shop",
			"usage_type": "lb_http_requests", "object_name": "web-frontend", "unit": "requests",
			"quantity": 1000 + i, "timestamp": now.Add(-time.Duration(i) * time.Hour).Format(time.RFC3339),
		}
	}
	return recs
}

// jsonLines renders records as JSON lines, after a blank line, so record i
// is on line i+2.
func jsonLines(t *testing.T, recs []map[string]any) string {
	t.Helper()
	var b strings.Builder
	b.WriteString("\n")
	for _, r := range recs {
		line, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		b.Write(line)
		b.WriteString("\n")
	}
	return b.String()
}

// csvRows renders records as CSV with the columns in another order than
// the JSON's.
func csvRows(t *testing.T, recs []map[string]any) string {
	t.Helper()
	cols := []string{"timestamp", "quantity", "unit", "object_name", "usage_type", "namespace", "tenant", "id"}
	var b strings.Builder
	w := csv.NewWriter(&b)
	_ = w.Write(cols)
	for _, r := range recs {
		row := make([]string, len(cols))
		for i, c := range cols {
			row[i] = fmt.Sprint(r[c])
		}
		_ = w.Write(row)
	}
	w.Flush()
	if err := w.Error(); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func writeImportFile(t *testing.T, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// summaryLine matches the import's summary line and captures its counts.
var summaryLine = regexp.MustCompile(`^(\d+) records? read: (\d+) accepted, (\d+) duplicates, (\d+) late, in (\d+) batch(?:es)?; \S+ elapsed, \d+ records/s(; dry run: nothing was stored)?\n$`)

// checkSummary fails t unless out is the summary line with these counts.
func checkSummary(t *testing.T, out string, read, accepted, duplicates, batches int, dryRun bool) {
	t.Helper()
	m := summaryLine.FindStringSubmatch(out)
	want := []string{strconv.Itoa(read), strconv.Itoa(accepted), strconv.Itoa(duplicates), "0", strconv.Itoa(batches)}
	if m == nil || !slices.Equal(m[1:6], want) || (m[6] != "") != dryRun {
		t.Fatalf("import printed %q, want %v read/accepted/duplicates/late/batches (dry run %v)", out, want, dryRun)
	}
}

// Both formats import in batches; importing the same file again changes
// nothing.
func TestUsageImportJSONLAndCSV(t *testing.T) {
	t.Parallel()
	env := meteredTenant(t)
	jsonl := writeImportFile(t, "usage.jsonl", jsonLines(t, testRecords(250, "j")))
	out, errOut, err := run(t, env, "usage", "import", "--batch-size", "100", jsonl)
	if err != nil {
		t.Fatalf("import: %v\n%s", err, errOut)
	}
	checkSummary(t, out, 250, 250, 0, 3, false)
	if strings.Contains(errOut, "importing") {
		t.Errorf("a progress bar went to a stderr that is no terminal:\n%s", errOut)
	}
	checkSummary(t, mustRun(t, env, "usage", "import", "--batch-size", "100", jsonl), 250, 0, 250, 3, false)

	csvFile := writeImportFile(t, "usage.csv", csvRows(t, testRecords(120, "c")))
	checkSummary(t, mustRun(t, env, "usage", "import", csvFile), 120, 120, 0, 1, false)
	checkSummary(t, mustRun(t, env, "usage", "import", "--batch-size", "50", csvFile), 120, 0, 120, 3, false)
}

// A refused batch is reported problem by problem at the input's lines; the
// batches before it stay stored, so importing the fixed file stores the
// rest.
func TestUsageImportStopsAtARefusedBatch(t *testing.T) {
	t.Parallel()
	env := meteredTenant(t)
	recs := testRecords(25, "r")
	recs[13]["unit"] = "GB"           // line 15
	recs[16]["namespace"] = "nowhere" // line 18
	path := writeImportFile(t, "usage.jsonl", jsonLines(t, recs))
	out, errOut, err := run(t, env, "usage", "import", "--batch-size", "10", path)
	if err == nil {
		t.Fatalf("a bad batch was imported: %s", out)
	}
	for _, want := range []string{
		"billing-api: batch 2 (lines 12-21) was refused, none of it was stored\n",
		"\n  line 15: unit: lb_http_requests is measured in \"requests\", not \"GB\" (enum)\n",
		"\n  line 18: namespace: tenant \"acme\" has no namespace \"nowhere\" (exists)\n",
		"\nstored before the stop: 1 batch (10 records accepted, 0 duplicates, 0 late); after fixing the file, import it again",
	} {
		if !strings.Contains(errOut, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errOut)
		}
	}
	if out != "" {
		t.Errorf("a stopped import printed a summary: %q", out)
	}

	recs[13]["unit"], recs[16]["namespace"] = "requests", "shop"
	path = writeImportFile(t, "fixed.jsonl", jsonLines(t, recs))
	checkSummary(t, mustRun(t, env, "usage", "import", "--batch-size", "10", path), 25, 15, 10, 3, false)
}

// A line that does not parse stops the import before its batch is sent.
func TestUsageImportStopsAtABadRow(t *testing.T) {
	t.Parallel()
	env := meteredTenant(t)
	text := csvRows(t, testRecords(25, "p"))
	rows := strings.SplitAfter(text, "\n")
	rows[14] = strings.Replace(rows[14], ",1013,", ",NaN,", 1) // record 13 is row 15
	path := writeImportFile(t, "usage.csv", strings.Join(rows, ""))
	_, errOut, err := run(t, env, "usage", "import", "--batch-size", "10", path)
	if err == nil || !strings.Contains(errOut, `billing-api: row 15: quantity: "NaN" is not a decimal number`) ||
		!strings.Contains(errOut, "stored before the stop: 1 batch (10 records accepted") {
		t.Fatalf("NaN quantity: %v\n%s", err, errOut)
	}
}

// --dry-run counts what a real import would do and keeps nothing.
func TestUsageImportDryRun(t *testing.T) {
	t.Parallel()
	env := meteredTenant(t)
	path := writeImportFile(t, "usage.ndjson", jsonLines(t, testRecords(30, "d")))
	checkSummary(t, mustRun(t, env, "usage", "import", "--dry-run", path), 30, 30, 0, 1, true)
	checkSummary(t, mustRun(t, env, "usage", "import", "--dry-run", path), 30, 30, 0, 1, true)
	checkSummary(t, mustRun(t, env, "usage", "import", path), 30, 30, 0, 1, false)
	checkSummary(t, mustRun(t, env, "usage", "import", "--dry-run", path), 30, 0, 30, 1, true)
}

// Standard input needs --format; bad flags and files fail before anything
// is read.
func TestUsageImportFromStdin(t *testing.T) {
	t.Parallel()
	env := meteredTenant(t)
	text := csvRows(t, testRecords(40, "s"))
	out, errOut, err := runInput(t, env, text, "usage", "import", "--format", "csv", "-")
	if err != nil {
		t.Fatalf("stdin: %v\n%s", err, errOut)
	}
	checkSummary(t, out, 40, 40, 0, 1, false)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"usage", "import", "-"}, "reading standard input needs --format jsonl or --format csv"},
		{[]string{"usage", "import", "--batch-size", "10001", "-"}, "--batch-size must be 1 to 10000, not 10001"},
		{[]string{"usage", "import", "--batch-size", "0", "a.csv"}, "--batch-size must be 1 to 10000, not 0"},
		{[]string{"usage", "import", filepath.Join(t.TempDir(), "missing.csv")}, "opening the import file: open "},
		{[]string{"usage", "import", "--format", "jsonl", "-"}, "line 2: not a JSON object"},
	} {
		if _, errOut, err := runInput(t, env, "\nid,tenant\n", c.args...); err == nil || !strings.Contains(errOut, c.want) {
			t.Errorf("%v: %v %q, want %q", c.args, err, errOut, c.want)
		}
	}
}

// Each rotation adds a newer key; --retire-old retires the ones before it.
func TestRotateQueryKey(t *testing.T) {
	t.Parallel()
	env := storeEnv(t)
	line := regexp.MustCompile(`^new query signing key (\d+); (\d+) older keys? retired\n$`)
	rotate := func(args ...string) (id int, retired string) {
		t.Helper()
		out := mustRun(t, env, append([]string{"usage", "rotate-query-key"}, args...)...)
		m := line.FindStringSubmatch(out)
		if m == nil {
			t.Fatalf("rotate-query-key printed %q", out)
		}
		id, _ = strconv.Atoi(m[1])
		return id, m[2]
	}
	first, retired := rotate()
	if retired != "0" {
		t.Fatalf("rotating without --retire-old retired %s keys", retired)
	}
	second, _ := rotate()
	third, retired := rotate("--retire-old")
	if !(first < second && second < third) || retired != "2" {
		t.Fatalf("keys %d, %d, %d; the last retired %s, want increasing ids and 2 retired", first, second, third, retired)
	}
	if _, retired := rotate("--retire-old"); retired != "1" {
		t.Fatalf("rotating again retired %s keys, want 1 (the only one left)", retired)
	}
}
