package election

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"time"
)

// MaxSessions bounds an UptimeHistory: Begin drops the oldest sessions
// beyond it, and Unmarshal rejects longer histories.
const MaxSessions = 1000

// historyVersion is the version of the JSON encoding.
const historyVersion = 1

// maxHistoryBytes bounds the input of UnmarshalHistory (MaxSessions sessions
// of two RFC 3339 times fit easily).
const maxHistoryBytes = 1 << 20

// Session is one run of the process, from Start to the last time it was
// known to be up (End ≥ Start).
type Session struct {
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
}

// Duration is End − Start.
func (s Session) Duration() time.Duration { return s.End.Sub(s.Start) }

// UptimeHistory is the node's record of past sessions, oldest first, in
// order and not overlapping. It is pure: the caller loads it at start, calls
// Begin, calls Touch periodically (so a crash loses at most one period),
// persists it, and feeds Uptime(now) to the machine.
type UptimeHistory struct {
	Sessions []Session
}

// Begin starts a new session at `at`. It fails with ErrInvalidHistory if
// `at` is zero or before the end of the last session (the clock went back);
// the caller may then start a fresh history.
func (h *UptimeHistory) Begin(at time.Time) error {
	if at.IsZero() {
		return fmt.Errorf("%w: zero session start", ErrInvalidHistory)
	}
	if n := len(h.Sessions); n > 0 && at.Before(h.Sessions[n-1].End) {
		return fmt.Errorf("%w: session start %v before the end of the last session %v", ErrInvalidHistory, at, h.Sessions[n-1].End)
	}
	h.Sessions = append(h.Sessions, Session{Start: at, End: at})
	if extra := len(h.Sessions) - MaxSessions; extra > 0 {
		h.Sessions = append(h.Sessions[:0:0], h.Sessions[extra:]...)
	}
	return nil
}

// Touch records that the current session is still up at `at`. An `at`
// before the recorded end is ignored; with no session, or before its start,
// it fails with ErrInvalidHistory.
func (h *UptimeHistory) Touch(at time.Time) error {
	n := len(h.Sessions)
	if n == 0 {
		return fmt.Errorf("%w: Touch before Begin", ErrInvalidHistory)
	}
	cur := &h.Sessions[n-1]
	if at.Before(cur.Start) {
		return fmt.Errorf("%w: Touch at %v before the session start %v", ErrInvalidHistory, at, cur.Start)
	}
	if at.After(cur.End) {
		cur.End = at
	}
	return nil
}

// Average is the mean session length, the current session included as far
// as it has been touched; 0 with no session.
func (h UptimeHistory) Average() time.Duration {
	if len(h.Sessions) == 0 {
		return 0
	}
	return durationOf(h.totalSeconds() / float64(len(h.Sessions)))
}

// Total is the summed length of all sessions (saturating).
func (h UptimeHistory) Total() time.Duration { return durationOf(h.totalSeconds()) }

func (h UptimeHistory) totalSeconds() float64 {
	var s float64
	for _, x := range h.Sessions {
		s += x.Duration().Seconds()
	}
	return s
}

func durationOf(seconds float64) time.Duration {
	ns := seconds * float64(time.Second)
	if ns >= math.MaxInt64 {
		return time.Duration(math.MaxInt64)
	}
	return time.Duration(ns)
}

// Uptime is the observation for the machine at `now`: the current (last)
// session's start and the average over the history. ok is false with no
// session.
func (h UptimeHistory) Uptime(now time.Time) (u Uptime, ok bool) {
	n := len(h.Sessions)
	if n == 0 {
		return Uptime{}, false
	}
	return Uptime{SessionStart: h.Sessions[n-1].Start, Average: h.Average(), Sessions: n, At: now}, true
}

// Validate checks the invariants: at most MaxSessions, no zero time, each
// End ≥ Start, each Start ≥ the previous End.
func (h UptimeHistory) Validate() error {
	if len(h.Sessions) > MaxSessions {
		return fmt.Errorf("%w: %d sessions, more than %d", ErrInvalidHistory, len(h.Sessions), MaxSessions)
	}
	for i, s := range h.Sessions {
		switch {
		case s.Start.IsZero() || s.End.IsZero():
			return fmt.Errorf("%w: session %d has a zero time", ErrInvalidHistory, i)
		case s.End.Before(s.Start):
			return fmt.Errorf("%w: session %d ends (%v) before it starts (%v)", ErrInvalidHistory, i, s.End, s.Start)
		case i > 0 && s.Start.Before(h.Sessions[i-1].End):
			return fmt.Errorf("%w: session %d starts (%v) before session %d ends (%v)", ErrInvalidHistory, i, s.Start, i-1, h.Sessions[i-1].End)
		}
	}
	return nil
}

type historyJSON struct {
	Version  int       `json:"version"`
	Sessions []Session `json:"sessions"`
}

// MarshalJSON encodes {"version":1,"sessions":[{"start":..,"end":..}]}
// after Validate.
func (h UptimeHistory) MarshalJSON() ([]byte, error) {
	if err := h.Validate(); err != nil {
		return nil, err
	}
	s := h.Sessions
	if s == nil {
		s = []Session{}
	}
	return json.Marshal(historyJSON{Version: historyVersion, Sessions: s})
}

// UnmarshalJSON decodes strictly (unknown fields, trailing data, wrong
// version are errors) and validates; on error h is unchanged.
func (h *UptimeHistory) UnmarshalJSON(b []byte) error {
	if len(b) > maxHistoryBytes {
		return fmt.Errorf("%w: %d bytes, more than %d", ErrInvalidHistory, len(b), maxHistoryBytes)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var raw historyJSON
	if err := dec.Decode(&raw); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidHistory, err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return fmt.Errorf("%w: trailing data", ErrInvalidHistory)
	}
	if raw.Version != historyVersion {
		return fmt.Errorf("%w: version %d, want %d", ErrInvalidHistory, raw.Version, historyVersion)
	}
	if raw.Sessions == nil {
		return fmt.Errorf("%w: missing sessions", ErrInvalidHistory)
	}
	nh := UptimeHistory{Sessions: raw.Sessions}
	if err := nh.Validate(); err != nil {
		return err
	}
	*h = nh
	return nil
}

// MarshalHistory encodes h as JSON for the caller to persist.
func MarshalHistory(h UptimeHistory) ([]byte, error) { return json.Marshal(h) }

// UnmarshalHistory decodes and validates what MarshalHistory produced. Bad
// input returns an error wrapping ErrInvalidHistory, never a panic.
func UnmarshalHistory(b []byte) (UptimeHistory, error) {
	var h UptimeHistory
	if err := h.UnmarshalJSON(b); err != nil {
		return UptimeHistory{}, err
	}
	return h, nil
}
