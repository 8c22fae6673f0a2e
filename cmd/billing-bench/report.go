package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

// Summary says how the rounds become one number each. Throughput is the
// median of the rounds, so one round hit by the shared machine's other work
// does not move it; percentiles pool the requests of all rounds, so p99
// rests on every sample there is rather than on one round's tail. Failed
// requests count only as errors.
const Summary = "req/s: successful requests per second, median of the rounds; " +
	"p50/p99: latency of the successful requests, pooled over all rounds; CPU/req: the process's CPU time per successful request, median of the rounds; " +
	"ratio: server req/s ÷ baseline req/s"

// Report is a run's result, printed as a table and written as JSON.
type Report struct {
	Summary    string     `json:"summary"`
	Config     RunConfig  `json:"config"`
	Machine    Machine    `json:"machine"`
	DataSet    DataSet    `json:"data_set"`
	Operations []OpResult `json:"operations"`
	PeakRSS    PeakRSS    `json:"peak_rss_bytes"`
	Started    time.Time  `json:"started"`
	Notes      []string   `json:"notes,omitempty"`
}

// RunConfig is the load's shape.
type RunConfig struct {
	Concurrency int    `json:"concurrency"`
	Warmup      string `json:"warmup"`
	Duration    string `json:"duration"`
	Rounds      int    `json:"rounds"`
}

// Machine is where the run happened.
type Machine struct {
	GOMAXPROCS int    `json:"gomaxprocs"`
	CPUs       int    `json:"cpus"`
	GoVersion  string `json:"go_version"`
	// ServerGoVersion is the toolchain the server binary was built with.
	ServerGoVersion string `json:"server_go_version,omitempty"`
	Postgres        string `json:"postgres_version"`
}

// DataSet describes what was seeded.
type DataSet struct {
	Tenants     int     `json:"tenants"`
	LargeTenant string  `json:"large_tenant"`
	ListObjects int     `json:"list_objects"`
	SeedSeconds float64 `json:"seed_seconds"`
	// UsageSeries series of the large tenant hold an hourly record each
	// over UsageDays days, UsageRecords in all, ingested through the
	// service in UsageSeedSeconds (part of SeedSeconds).
	UsageSeries      int     `json:"usage_series"`
	UsageDays        int     `json:"usage_days"`
	UsageRecords     int     `json:"usage_records"`
	UsageSeedSeconds float64 `json:"usage_seed_seconds"`
}

// PeakRSS is each process's resident-set high-water mark (VmHWM) over the run.
type PeakRSS struct {
	Server   int64 `json:"server"`
	Baseline int64 `json:"baseline"`
}

// OpResult is one row of the table.
type OpResult struct {
	Name     string     `json:"name"`
	Server   SideResult `json:"server"`
	Baseline SideResult `json:"baseline"`
	// Ratio is Server.RPS / Baseline.RPS.
	Ratio float64 `json:"ratio"`
	// RecordsPerRequest is, for an operation storing a batch of records per
	// request, the batch's size (the same on both sides); 0 for others.
	RecordsPerRequest int `json:"records_per_request,omitempty"`
}

// SideResult is one side of an operation over all rounds.
type SideResult struct {
	// Request is the first request sent, standing for all of them.
	Request string `json:"request"`
	// RPS is the median of RoundRPS, each round's successful requests per second.
	RPS      float64   `json:"rps"`
	RoundRPS []float64 `json:"round_rps"`
	P50Ms    float64   `json:"p50_ms"`
	P99Ms    float64   `json:"p99_ms"`
	// CPUUs is the process's CPU time per successful request in
	// microseconds, median of the rounds (0 when unknown): with client,
	// servers and database on one small machine, it is what throughput
	// mostly comes down to.
	CPUUs float64 `json:"cpu_us_per_request"`
	// RecordsPerSecond is RPS × the operation's RecordsPerRequest (0 for
	// operations that do not store batches).
	RecordsPerSecond float64 `json:"records_per_second,omitempty"`
	// Requests counts every measured request; Errors those that failed.
	Requests    int    `json:"requests"`
	Errors      int    `json:"errors"`
	ErrorSample string `json:"error_sample,omitempty"`
}

// Failed reports whether every measured request failed (or none was sent).
func (s SideResult) Failed() bool { return s.Requests == s.Errors }

// summarize turns a side's rounds into its result.
func summarize(request string, rounds []phase) SideResult {
	s := SideResult{Request: request}
	var all []time.Duration
	var cpu []float64
	for _, p := range rounds {
		s.RoundRPS = append(s.RoundRPS, p.RPS())
		if c := p.CPUPerRequest(); c > 0 {
			cpu = append(cpu, float64(c)/float64(time.Microsecond))
		}
		s.Requests += p.Requests()
		s.Errors += p.Errors
		if s.ErrorSample == "" {
			s.ErrorSample = p.ErrorSample
		}
		all = append(all, p.Latencies...)
	}
	slices.Sort(all)
	s.RPS = median(s.RoundRPS)
	if len(cpu) > 0 {
		s.CPUUs = median(cpu)
	}
	s.P50Ms = ms(percentile(all, 0.50))
	s.P99Ms = ms(percentile(all, 0.99))
	return s
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func newOpResult(name string, server, baseline SideResult) OpResult {
	r := OpResult{Name: name, Server: server, Baseline: baseline}
	if baseline.RPS > 0 {
		r.Ratio = server.RPS / baseline.RPS
	}
	return r
}

// withRecords sets the batch size of an operation storing records, and
// each side's records per second.
func (r OpResult) withRecords(perRequest int) OpResult {
	if perRequest > 0 {
		r.RecordsPerRequest = perRequest
		r.Server.RecordsPerSecond = r.Server.RPS * float64(perRequest)
		r.Baseline.RecordsPerSecond = r.Baseline.RPS * float64(perRequest)
	}
	return r
}

// WriteText prints the report as a table with its context.
func (r *Report) WriteText(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "billing-bench: %d round(s) of %s warm-up + %s measured per operation and side, concurrency %d\n",
		r.Config.Rounds, r.Config.Warmup, r.Config.Duration, r.Config.Concurrency)
	fmt.Fprintf(&b, "data set: %d tenants + %s (%d quota objects listed), seeded in %.1fs\n",
		r.DataSet.Tenants, r.DataSet.LargeTenant, r.DataSet.ListObjects, r.DataSet.SeedSeconds)
	if ds := r.DataSet; ds.UsageRecords > 0 {
		fmt.Fprintf(&b, "usage: %d series × %d days of hourly records = %d records, ingested through the service in %.1fs (%.0f records/s)\n",
			ds.UsageSeries, ds.UsageDays, ds.UsageRecords, ds.UsageSeedSeconds, float64(ds.UsageRecords)/ds.UsageSeedSeconds)
	}
	fmt.Fprintf(&b, "%s\n\n", r.Summary)
	// Numbers right-aligned; the names padded so they read left-aligned,
	// and every later cell starts with the gap, so no line is indented.
	width := len("operation")
	for _, o := range r.Operations {
		width = max(width, len(o.Name))
	}
	tw := tabwriter.NewWriter(&b, 0, 0, 0, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "%-*s\t  server req/s\t  p50\t  p99\t  CPU/req\t  baseline req/s\t  p50\t  p99\t  CPU/req\t  ratio\t  errors (server/baseline)\t\n", width, "operation")
	for _, o := range r.Operations {
		fmt.Fprintf(tw, "%-*s\t  %.0f\t  %s\t  %s\t  %s\t  %.0f\t  %s\t  %s\t  %s\t  %.3f\t  %d/%d\t\n", width, o.Name,
			o.Server.RPS, fmtMs(o.Server.P50Ms), fmtMs(o.Server.P99Ms), fmtUs(o.Server.CPUUs),
			o.Baseline.RPS, fmtMs(o.Baseline.P50Ms), fmtMs(o.Baseline.P99Ms), fmtUs(o.Baseline.CPUUs),
			o.Ratio, o.Server.Errors, o.Baseline.Errors)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	// Operations storing batches: the same ratio, in records.
	first := true
	for _, o := range r.Operations {
		if o.RecordsPerRequest == 0 {
			continue
		}
		if first {
			b.WriteString("\nrecords/s (operations storing a batch per request: req/s × records per request):\n")
			first = false
		}
		fmt.Fprintf(&b, "  %-*s %d per request: server %.0f records/s, baseline %.0f records/s, ratio %.3f\n", width, o.Name,
			o.RecordsPerRequest, o.Server.RecordsPerSecond, o.Baseline.RecordsPerSecond, o.Ratio)
	}
	// One line per baseline request, naming the operations compared to it.
	var counterparts []string
	byRequest := map[string][]string{}
	reqWidth := 16
	for _, o := range r.Operations {
		if _, seen := byRequest[o.Baseline.Request]; !seen {
			counterparts = append(counterparts, o.Baseline.Request)
			reqWidth = max(reqWidth, len(o.Baseline.Request))
		}
		byRequest[o.Baseline.Request] = append(byRequest[o.Baseline.Request], o.Name)
	}
	b.WriteString("\nbaseline counterparts:\n")
	for _, req := range counterparts {
		fmt.Fprintf(&b, "  %-*s %s\n", reqWidth, req, strings.Join(byRequest[req], ", "))
	}
	for _, o := range r.Operations {
		for _, side := range []struct {
			name string
			s    SideResult
		}{{"server", o.Server}, {"baseline", o.Baseline}} {
			if side.s.Errors > 0 {
				fmt.Fprintf(&b, "errors: %s %s: %d of %d requests failed; first: %s\n",
					o.Name, side.name, side.s.Errors, side.s.Requests, side.s.ErrorSample)
			}
		}
	}
	fmt.Fprintf(&b, "peak RSS (VmHWM): server %s, baseline %s\n", fmtBytes(r.PeakRSS.Server), fmtBytes(r.PeakRSS.Baseline))
	m := r.Machine
	fmt.Fprintf(&b, "machine: GOMAXPROCS %d, %d CPUs, %s (harness)", m.GOMAXPROCS, m.CPUs, m.GoVersion)
	if m.ServerGoVersion != "" {
		fmt.Fprintf(&b, ", %s (server)", m.ServerGoVersion)
	}
	fmt.Fprintf(&b, ", PostgreSQL %s\n", m.Postgres)
	for _, n := range r.Notes {
		fmt.Fprintf(&b, "note: %s\n", n)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// WriteJSONFile writes the report as indented JSON to path.
func (r *Report) WriteJSONFile(path string) error {
	out, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(out, '\n'), 0o644)
}

func fmtMs(v float64) string {
	switch {
	case v >= 100:
		return fmt.Sprintf("%.0fms", v)
	case v >= 10:
		return fmt.Sprintf("%.1fms", v)
	default:
		return fmt.Sprintf("%.2fms", v)
	}
}

func fmtUs(v float64) string {
	if v <= 0 {
		return "-"
	}
	return fmt.Sprintf("%.0fus", v)
}

func fmtBytes(n int64) string {
	if n <= 0 {
		return "unknown"
	}
	return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
}
