package main

import (
	"io"
	"os"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
)

// progress shows an import's progress on a terminal: a bar of the bytes read
// when the input's size is known, else a spinner counting records. A nil
// *progress shows nothing, which is what a pipe or a log file gets.
type progress struct {
	bar *progressbar.ProgressBar
	// bytes is set when the bar counts bytes (read) rather than records.
	bytes bool
}

// newProgress returns the progress display for an input of size bytes
// (size < 0: unknown), or nil when out is not a terminal.
func newProgress(out io.Writer, size int64) *progress {
	f, ok := out.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return nil
	}
	common := []progressbar.Option{
		progressbar.OptionSetWriter(f),
		progressbar.OptionSetDescription("importing"),
		progressbar.OptionThrottle(100 * time.Millisecond),
		progressbar.OptionSpinnerType(14),
		// Narrowed to the terminal when it is narrower.
		progressbar.OptionSetWidth(30),
		// The summary line replaces the bar.
		progressbar.OptionClearOnFinish(),
	}
	if size > 0 {
		return &progress{bytes: true, bar: progressbar.NewOptions64(size, append(common,
			progressbar.OptionShowBytes(true), progressbar.OptionShowTotalBytes(true), progressbar.OptionShowCount(),
			progressbar.OptionSetRenderBlankState(true))...)}
	}
	return &progress{bar: progressbar.NewOptions64(-1, append(common,
		progressbar.OptionShowCount(), progressbar.OptionShowTotalBytes(false),
		progressbar.OptionShowIts(), progressbar.OptionSetItsString("records"))...)}
}

// reader counts what is read from r when the bar counts bytes.
func (p *progress) reader(r io.Reader) io.Reader {
	if p == nil || !p.bytes {
		return r
	}
	pr := progressbar.NewReader(r, p.bar)
	return &pr
}

// record counts one record read when the spinner counts records.
func (p *progress) record() {
	if p != nil && !p.bytes {
		_ = p.bar.Add(1) // only reports a finished or misconfigured bar
	}
}

// finish clears the display (and stops the spinner's ticker) so what is
// printed next starts on a clean line.
func (p *progress) finish() {
	if p != nil {
		_ = p.bar.Finish() // with OptionClearOnFinish this only clears the line
	}
}
