package main

import (
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"billing-api/gen/admin"
)

// readAll reads every record of input, or the first error.
func readAll(input, format string) ([]admin.UsageRecord, []position, error) {
	src, err := newRecordReader(strings.NewReader(input), format)
	if err != nil {
		return nil, nil, err
	}
	var recs []admin.UsageRecord
	var where []position
	for {
		r, pos, err := src.next()
		if errors.Is(err, io.EOF) {
			return recs, where, nil
		}
		if err != nil {
			return recs, where, err
		}
		recs = append(recs, r)
		where = append(where, pos)
	}
}

func TestImportFormats(t *testing.T) {
	t.Parallel()
	want := admin.UsageRecord{
		Id: "r1", Tenant: "acme", Namespace: "shop", UsageType: "lb_data_transfer", ObjectName: "web, \"front\"",
		Unit: "GB", Quantity: 1.25, Timestamp: time.Date(2026, 3, 1, 14, 0, 0, 0, time.UTC),
	}
	jsonl := "\n" + `{"id":"r1","tenant":"acme","namespace":"shop","usage_type":"lb_data_transfer","object_name":"web, \"front\"","unit":"GB","quantity":1.25,"timestamp":"2026-03-01T15:00:00+01:00"}` + "\r\n\n"
	// Columns in any order, a spreadsheet's byte order mark, CRLF, quoted
	// values (one spanning lines) and blank lines.
	csvText := "\ufefftimestamp, quantity ,unit,object_name,usage_type,namespace,tenant,id\r\n" +
		"2026-03-01T14:00:00Z,1.25,GB,\"web, \"\"front\"\"\",lb_data_transfer,shop,acme,r1\r\n" +
		"\n" +
		"2026-03-01T14:00:00Z, 1e3 ,GB,\"two\nlines\",lb_data_transfer,shop,acme,r2\n"
	for _, c := range []struct {
		format, input string
		where         []position
	}{
		{formatJSONL, jsonl, []position{{line: 2}}},
		{formatCSV, csvText, []position{{line: 2, row: 2}, {line: 4, row: 3}}},
	} {
		recs, where, err := readAll(c.input, c.format)
		if err != nil {
			t.Fatalf("%s: %v", c.format, err)
		}
		if len(recs) != len(c.where) || !recs[0].Timestamp.Equal(want.Timestamp) {
			t.Fatalf("%s: read %+v", c.format, recs)
		}
		recs[0].Timestamp = want.Timestamp
		if recs[0] != want {
			t.Errorf("%s: read %+v, want %+v", c.format, recs[0], want)
		}
		for i := range where {
			if where[i] != c.where[i] {
				t.Errorf("%s: record %d at %v, want %v", c.format, i, where[i], c.where[i])
			}
		}
	}
	if _, where, _ := readAll(csvText, formatCSV); where[1].String() != "row 3 (line 4)" {
		t.Errorf("a record after a blank line is at %q, want row 3 (line 4)", where[1])
	}
}

// Every problem names the line (CSV: the row) and the field.
func TestImportParseErrorsNameLineAndField(t *testing.T) {
	t.Parallel()
	const good = `{"id":"a","tenant":"acme","namespace":"shop","usage_type":"dns_queries","object_name":"z","unit":"queries","quantity":1,"timestamp":"2026-03-01T00:00:00Z"}`
	const header = "id,tenant,namespace,usage_type,object_name,unit,quantity,timestamp\n"
	const row = "a,acme,shop,dns_queries,z,queries,1,2026-03-01T00:00:00Z\n"
	for _, c := range []struct{ name, format, input, want string }{
		{"not JSON", formatJSONL, good + "\n{nope\n", "line 2: not a JSON object"},
		{"array", formatJSONL, "[1]", "line 1: not a JSON object"},
		{"unknown field", formatJSONL, strings.Replace(good, `"id"`, `"ID":1,"id"`, 1), `line 1: unknown field "ID"`},
		{"missing and null fields", formatJSONL, `{"id":"a","tenant":"acme","namespace":"shop","usage_type":"dns_queries","object_name":"z","unit":null}`,
			"line 1: missing field unit, quantity, timestamp"},
		{"quantity as text", formatJSONL, strings.Replace(good, `"quantity":1`, `"quantity":"1"`, 1), "line 1: quantity: must be a JSON number"},
		{"huge quantity", formatJSONL, strings.Replace(good, `"quantity":1`, `"quantity":1e999`, 1), "line 1: quantity: 1e999 is out of range"},
		{"bad time", formatJSONL, good + "\n" + strings.Replace(good, "2026-03-01T00:00:00Z", "2026-03-01 00:00", 1),
			`line 2: timestamp: "2026-03-01 00:00" is not an RFC 3339 time`},
		{"every bad field", formatJSONL, strings.Replace(strings.Replace(good, `"tenant":"acme"`, `"tenant":7`, 1), `"timestamp":"2026-03-01T00:00:00Z"`, `"timestamp":false`, 1),
			"line 1: tenant: must be a JSON string; timestamp: must be a JSON string"},
		{"line too long", formatJSONL, good + "\n" + strings.Repeat(" ", maxLineBytes+1), "line 2: longer than"},
		{"NaN", formatCSV, header + row + strings.Replace(row, ",1,", ",NaN,", 1), `row 3: quantity: "NaN" is not a decimal number (NaN and infinities are refused)`},
		{"Inf", formatCSV, header + strings.Replace(row, ",1,", ",-Inf,", 1), `row 2: quantity: "-Inf" is not a decimal number`},
		{"hex", formatCSV, header + strings.Replace(row, ",1,", ",0x1p3,", 1), `row 2: quantity: "0x1p3" is not a decimal number`},
		{"out of range", formatCSV, header + strings.Replace(row, ",1,", ",1e999,", 1), `row 2: quantity: "1e999" is out of range`},
		{"empty quantity and time", formatCSV, header + "a,acme,shop,dns_queries,z,queries,,\n", "row 2: quantity: is empty; timestamp: is empty"},
		{"short row", formatCSV, header + row + "a,acme\n", "row 3: record on line 3: wrong number of fields"},
		{"bare quote", formatCSV, header + "\n" + `a,acme,sh"op,dns_queries,z,queries,1,2026-03-01T00:00:00Z` + "\n", "row 2 (line 3): parse error"},
		{"unknown and missing columns", formatCSV, "id,tenant,namespace,usage_type,object,unit,quantity,time,id\n",
			`CSV header (row 1): unknown column "object", "time"; repeated column id; missing column object_name, timestamp; the columns are id, tenant`},
		{"empty CSV", formatCSV, "", "the CSV file is empty"},
	} {
		_, _, err := readAll(c.input, c.format)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", c.name, err, c.want)
		}
	}
}

func TestImportFormatFromFlagOrExtension(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ path, flag, want, err string }{
		{"a.jsonl", "", formatJSONL, ""},
		{"a.NDJSON", "", formatJSONL, ""},
		{"dir.v2/a.json", "", formatJSONL, ""},
		{"a.csv", "", formatCSV, ""},
		{"a.txt", "csv", formatCSV, ""},
		{"a.csv", "jsonl", formatJSONL, ""},
		{"a.txt", "", "", "give --format"},
		{"-", "", "", "standard input needs --format"},
		{"a.csv", "xml", "", "--format must be jsonl or csv"},
	} {
		got, err := importFormat(c.path, c.flag)
		if got != c.want || (err == nil) != (c.err == "") || (err != nil && !strings.Contains(err.Error(), c.err)) {
			t.Errorf("importFormat(%q, %q) = %q, %v; want %q, %q", c.path, c.flag, got, err, c.want, c.err)
		}
	}
}
