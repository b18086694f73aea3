package events

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"time"
)

// MaxLineBytes is the longest line the Reader accepts.
const MaxLineBytes = 1 << 20

// LineError is a read or validation error at a given line (1-based). It
// matches ErrInvalidEvent with errors.Is when the line itself is bad.
type LineError struct {
	Line int
	Err  error
}

func (e *LineError) Error() string { return fmt.Sprintf("events: line %d: %v", e.Line, e.Err) }
func (e *LineError) Unwrap() error { return e.Err }

// Log is a fully read event log.
type Log struct {
	Run    Run
	Events []Event // in file order, header excluded
}

// Reader reads and validates a log line by line.
type Reader struct {
	sc   *bufio.Scanner
	line int
	run  *Run
	err  error
}

// NewReader returns a Reader on r.
func NewReader(r io.Reader) *Reader {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), MaxLineBytes)
	return &Reader{sc: sc}
}

// Line returns the number of the last line read.
func (r *Reader) Line() int { return r.line }

// Run reads the header if needed and returns it.
func (r *Reader) Run() (Run, error) {
	if r.run == nil && r.err == nil {
		r.readHeader()
	}
	if r.err != nil {
		return Run{}, r.err
	}
	return *r.run, nil
}

func (r *Reader) fail(err error) error {
	r.err = &LineError{Line: r.line, Err: err}
	return r.err
}

func (r *Reader) scan() bool {
	if !r.sc.Scan() {
		if err := r.sc.Err(); err != nil {
			r.line++
			if errors.Is(err, bufio.ErrTooLong) {
				r.fail(invalid("line longer than %d bytes", MaxLineBytes))
			} else {
				r.fail(err)
			}
		}
		return false
	}
	r.line++
	return true
}

func (r *Reader) readHeader() {
	if !r.scan() {
		if r.err == nil {
			r.line = 1
			r.fail(invalid("empty log: no run header"))
		}
		return
	}
	t, p, err := decodeLine(r.sc.Bytes(), nil)
	if err != nil {
		r.fail(err)
		return
	}
	run, ok := p.(Run)
	if !ok {
		r.fail(invalid("first line is %q, want the %q header", p.Kind(), KindRun))
		return
	}
	if t != 0 {
		r.fail(invalid("run header t_ns %d, want 0", t))
		return
	}
	r.run = &run
}

// Next returns the next event after the header, or io.EOF at the end.
func (r *Reader) Next() (Event, error) {
	if _, err := r.Run(); err != nil {
		return Event{}, err
	}
	if !r.scan() {
		if r.err != nil {
			return Event{}, r.err
		}
		return Event{}, io.EOF
	}
	t, p, err := decodeLine(r.sc.Bytes(), r.run)
	if err != nil {
		return Event{}, r.fail(err)
	}
	return Event{T: t, Payload: p}, nil
}

// ReadAll reads a whole log.
func ReadAll(rd io.Reader) (*Log, error) {
	r := NewReader(rd)
	run, err := r.Run()
	if err != nil {
		return nil, err
	}
	l := &Log{Run: run}
	for {
		ev, err := r.Next()
		if err == io.EOF {
			return l, nil
		}
		if err != nil {
			return nil, err
		}
		l.Events = append(l.Events, ev)
	}
}

// ReadFile reads the log at path.
func ReadFile(path string) (*Log, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("events: %w", err)
	}
	defer f.Close()
	return ReadAll(f)
}

// WriteLog writes l (header and events, in order) to w as JSONL.
func WriteLog(w io.Writer, l *Log) error {
	bw := bufio.NewWriter(w)
	if err := Validate(nil, l.Run); err != nil {
		return err
	}
	line, err := marshalLine(0, l.Run)
	if err != nil {
		return err
	}
	bw.Write(line)
	for _, ev := range l.Events {
		if err := Validate(&l.Run, ev.Payload); err != nil {
			return err
		}
		if ev.Kind() == KindRun {
			return invalid("run header may only be the first line")
		}
		line, err := marshalLine(ev.T, ev.Payload)
		if err != nil {
			return err
		}
		bw.Write(line)
	}
	return bw.Flush()
}

func strictDecode(b []byte, v any) error {
	d := json.NewDecoder(bytes.NewReader(b))
	d.DisallowUnknownFields()
	if err := d.Decode(v); err != nil {
		return invalid("%v", err)
	}
	if _, err := d.Token(); err != io.EOF {
		return invalid("trailing data after the JSON object")
	}
	return nil
}

// decodeLine parses and validates one line. h is nil for the header line.
func decodeLine(b []byte, h *Run) (t time.Duration, p Payload, err error) {
	var env envelope
	if err := json.Unmarshal(b, &env); err != nil {
		return 0, nil, invalid("%v", err)
	}
	if env.V != Version {
		return 0, nil, invalid("version %d, want %d", env.V, Version)
	}
	switch env.Kind {
	case KindRun:
		var x struct {
			envelope
			Run
		}
		err = strictDecode(b, &x)
		p = x.Run
		if err == nil && h != nil {
			err = invalid("run header may only be the first line")
		}
	case KindScheduleStart:
		var x struct {
			envelope
			ScheduleStart
		}
		err = strictDecode(b, &x)
		p = x.ScheduleStart
	case KindRunEnd:
		var x struct {
			envelope
			RunEnd
		}
		err = strictDecode(b, &x)
		p = x.RunEnd
	case KindOpIssued:
		var x struct {
			envelope
			OpIssued
		}
		err = strictDecode(b, &x)
		p = x.OpIssued
	case KindLookup:
		var x struct {
			envelope
			LookupResult
		}
		err = strictDecode(b, &x)
		p = x.LookupResult
	case KindAnnounce:
		var x struct {
			envelope
			AnnounceResult
		}
		err = strictDecode(b, &x)
		p = x.AnnounceResult
	case KindNodeStart:
		var x struct {
			envelope
			NodeStart
		}
		err = strictDecode(b, &x)
		p = x.NodeStart
	case KindNodeKill:
		var x struct {
			envelope
			NodeKill
		}
		err = strictDecode(b, &x)
		p = x.NodeKill
	case KindNodeRestart:
		var x struct {
			envelope
			NodeRestart
		}
		err = strictDecode(b, &x)
		p = x.NodeRestart
	case KindNodeExit:
		var x struct {
			envelope
			NodeExit
		}
		err = strictDecode(b, &x)
		p = x.NodeExit
	case KindRoleChange:
		var x struct {
			envelope
			RoleChange
		}
		err = strictDecode(b, &x)
		p = x.RoleChange
	case KindLeafAttach:
		var x struct {
			envelope
			LeafAttach
		}
		err = strictDecode(b, &x)
		p = x.LeafAttach
	case KindSupernodeSample:
		var x struct {
			envelope
			SupernodeSample
		}
		err = strictDecode(b, &x)
		p = x.SupernodeSample
	case KindResourceSample:
		var x struct {
			envelope
			ResourceSample
		}
		err = strictDecode(b, &x)
		p = x.ResourceSample
	case KindTrafficSample:
		var x struct {
			envelope
			TrafficSample
		}
		err = strictDecode(b, &x)
		p = x.TrafficSample
	default:
		return 0, nil, invalid("unknown kind %q", env.Kind)
	}
	if err != nil {
		return 0, nil, err
	}
	if h == nil {
		if _, isRun := p.(Run); !isRun {
			return time.Duration(env.T), p, nil // caller reports "not a header"
		}
		run := p.(Run)
		h = &run
	}
	if err := p.validate(h); err != nil {
		return 0, nil, err
	}
	return time.Duration(env.T), p, nil
}
