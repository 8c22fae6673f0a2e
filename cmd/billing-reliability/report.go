package main

import (
	"fmt"
	"os"
	"strings"
	"time"
)

// report is a run's figures, written as RELIABILITY.md.
type report struct {
	Short     bool
	Started   time.Time
	Took      time.Duration
	Command   string
	Commit    string
	Postgres  string
	Scenarios []scenarioResult
}

type scenarioResult struct {
	Name, Title string
	Took        time.Duration
	Figures     []figure
	Error       string
}

func (r *report) failed() bool {
	for _, s := range r.Scenarios {
		if s.Error != "" {
			return true
		}
		for _, f := range s.Figures {
			if !f.OK {
				return true
			}
		}
	}
	return false
}

func (r *report) write(c *config) error {
	if c.reportPath == "" {
		return nil
	}
	return os.WriteFile(c.reportPath, []byte(r.markdown()), 0o644)
}

func (r *report) markdown() string {
	var b strings.Builder
	mode := "full run"
	if r.Short {
		mode = "short run (CI's)"
	}
	b.WriteString("# Reliability\n\n")
	b.WriteString("What the fault harness measured when it broke billing-api on purpose: servers killed\n")
	b.WriteString("(SIGKILL) mid-write, the database and the cache taken away under load, two replicas\n")
	b.WriteString("racing, slow and flooding clients. How it works, and how to run one scenario, is in\n")
	b.WriteString("[docs/reliability.md](docs/reliability.md). This file is written by the harness; do not edit it.\n\n")
	fmt.Fprintf(&b, "- command: `%s`\n", r.Command)
	fmt.Fprintf(&b, "- commit: `%s`\n", r.Commit)
	fmt.Fprintf(&b, "- run: %s, %s UTC, %s; PostgreSQL %s\n", mode, r.Started.Format("2006-01-02 15:04"), r.Took.Round(time.Second), r.Postgres)
	verdict := "every figure is what it must be"
	if r.failed() {
		verdict = "**some figures miss what they must be (✗)**"
	}
	fmt.Fprintf(&b, "- result: %s\n", verdict)
	for _, s := range r.Scenarios {
		fmt.Fprintf(&b, "\n## %s\n\n", s.Title)
		fmt.Fprintf(&b, "`--only %s`, %s.\n\n", s.Name, s.Took.Round(100*time.Millisecond))
		if s.Error != "" {
			fmt.Fprintf(&b, "**The scenario failed:** %s\n\n", strings.ReplaceAll(s.Error, "\n", " "))
		}
		if len(s.Figures) == 0 {
			continue
		}
		b.WriteString("| figure | measured | must be | |\n| --- | --- | --- | --- |\n")
		for _, f := range s.Figures {
			mark := "✓"
			if !f.OK {
				mark = "✗"
			}
			want := f.Want
			if want == "" {
				want, mark = "(measured)", ""
			}
			fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", f.What, f.Value, want, mark)
		}
	}
	return b.String()
}
