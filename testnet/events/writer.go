package events

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"sync"
	"time"
)

// Writer appends events to a log. It is safe for concurrent use. Output is
// buffered: call Flush to push it to the underlying writer, Close at the end.
type Writer struct {
	mu     sync.Mutex
	w      io.Writer
	bw     *bufio.Writer
	run    Run
	start  time.Time // monotonic origin of Now
	n      int
	err    error // sticky write error
	closed bool
}

// NewWriter writes the run header and returns a Writer whose clock (Now)
// starts now. If run.StartUnixNano is 0 it is set to the current wall clock.
func NewWriter(w io.Writer, run Run) (*Writer, error) {
	start := time.Now()
	if run.StartUnixNano == 0 {
		run.StartUnixNano = start.UnixNano()
	}
	if err := run.validate(nil); err != nil {
		return nil, err
	}
	ew := &Writer{w: w, bw: bufio.NewWriterSize(w, 64<<10), run: run, start: start}
	if err := ew.Emit(0, run); err != nil {
		return nil, err
	}
	return ew, nil
}

// Create creates (truncates) the file at path and returns a Writer on it;
// Close closes the file.
func Create(path string, run Run) (*Writer, error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("events: %w", err)
	}
	w, err := NewWriter(f, run)
	if err != nil {
		f.Close()
		return nil, err
	}
	return w, nil
}

// Run returns the header written by NewWriter.
func (w *Writer) Run() Run { return w.run }

// Now returns the time elapsed since the Writer was created (monotonic).
func (w *Writer) Now() time.Duration { return time.Since(w.start) }

// Emit validates p and appends it with time t. A Run payload is only
// accepted as the first line (written by NewWriter).
func (w *Writer) Emit(t time.Duration, p Payload) error {
	if p == nil {
		return invalid("nil payload")
	}
	if _, isRun := p.(Run); !isRun {
		if err := p.validate(&w.run); err != nil {
			return err
		}
	}
	line, err := marshalLine(t, p)
	if err != nil {
		return fmt.Errorf("events: encode %s: %w", p.Kind(), err)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	switch {
	case w.closed:
		return fmt.Errorf("events: write to closed Writer")
	case w.err != nil:
		return w.err
	}
	if _, isRun := p.(Run); isRun && w.n != 0 {
		return invalid("run header may only be the first line")
	}
	if _, err := w.bw.Write(line); err != nil {
		w.err = fmt.Errorf("events: write: %w", err)
		return w.err
	}
	w.n++
	return nil
}

// EmitNow is Emit(w.Now(), p).
func (w *Writer) EmitNow(p Payload) error { return w.Emit(w.Now(), p) }

// Count returns the number of lines written, header included.
func (w *Writer) Count() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.n
}

// Flush writes buffered lines to the underlying writer.
func (w *Writer) Flush() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.flushLocked()
}

func (w *Writer) flushLocked() error {
	if w.err != nil {
		return w.err
	}
	if err := w.bw.Flush(); err != nil {
		w.err = fmt.Errorf("events: flush: %w", err)
	}
	return w.err
}

// Close flushes and, if the underlying writer is an io.Closer, closes it.
// Further Emits fail. Close is idempotent.
func (w *Writer) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return nil
	}
	w.closed = true
	err := w.flushLocked()
	if c, ok := w.w.(io.Closer); ok {
		if cerr := c.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("events: close: %w", cerr)
		}
	}
	return err
}
