package report

import (
	"io"
	"os"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
)

// ProgressMode selects when a Progress draws.
type ProgressMode int

const (
	ProgressAuto ProgressMode = iota // draw only when the writer is a terminal
	ProgressOff                      // never draw
	ProgressOn                       // always draw (e.g. tests, forced by a flag)
)

// Progress is a console progress bar; a disabled one does nothing. Its
// methods are safe for concurrent use and on a nil *Progress.
type Progress struct {
	mu  sync.Mutex
	bar *progressbar.ProgressBar
	max int64
	cur int64
}

// IsTerminal reports whether w is a terminal (an *os.File on a tty).
func IsTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// NewProgress returns a bar from 0 to max (> 0; e.g. the run's seconds or
// its number of ops) labelled desc, drawn on w according to mode.
func NewProgress(w io.Writer, max int64, desc string, mode ProgressMode) *Progress {
	enabled := mode == ProgressOn || (mode == ProgressAuto && IsTerminal(w))
	if !enabled || max <= 0 || w == nil {
		return &Progress{}
	}
	bar := progressbar.NewOptions64(max,
		progressbar.OptionSetWriter(w),
		progressbar.OptionSetDescription(desc),
		progressbar.OptionSetWidth(30),
		progressbar.OptionShowCount(),
		progressbar.OptionSetElapsedTime(true),
		progressbar.OptionSetPredictTime(false),
		progressbar.OptionThrottle(200*time.Millisecond),
		progressbar.OptionOnCompletion(func() { io.WriteString(w, "\n") }),
	)
	return &Progress{bar: bar, max: max}
}

// Enabled reports whether the bar draws.
func (p *Progress) Enabled() bool { return p != nil && p.bar != nil }

// Set moves the bar to n (clamped to [0, max]).
func (p *Progress) Set(n int64) {
	if p.Enabled() {
		p.mu.Lock()
		defer p.mu.Unlock()
		p.cur = min(max(n, 0), p.max)
		p.bar.Set64(p.cur)
	}
}

// Add advances the bar by n, without passing max.
func (p *Progress) Add(n int64) {
	if p.Enabled() {
		p.mu.Lock()
		defer p.mu.Unlock()
		p.cur = min(max(p.cur+n, 0), p.max)
		p.bar.Set64(p.cur)
	}
}

// Describe changes the label.
func (p *Progress) Describe(desc string) {
	if p.Enabled() {
		p.bar.Describe(desc)
	}
}

// Finish fills the bar and ends its line.
func (p *Progress) Finish() {
	if p.Enabled() {
		p.mu.Lock()
		defer p.mu.Unlock()
		p.cur = p.max
		p.bar.Finish()
	}
}
