package election

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestHistorySessions(t *testing.T) {
	var h UptimeHistory
	if h.Average() != 0 {
		t.Fatal("empty history has an average")
	}
	if err := h.Touch(t0); !errors.Is(err, ErrInvalidHistory) {
		t.Fatalf("Touch before Begin = %v", err)
	}
	if _, ok := h.Uptime(t0); ok {
		t.Fatal("Uptime ok on empty history")
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(h.Begin(t0))
	must(h.Touch(t0.Add(3 * time.Hour)))
	must(h.Touch(t0.Add(time.Hour))) // earlier than the end: ignored
	must(h.Begin(t0.Add(4 * time.Hour)))
	must(h.Touch(t0.Add(5 * time.Hour)))
	if got := h.Average(); got != 2*time.Hour {
		t.Errorf("Average = %v, want 2h", got)
	}
	if got := h.Total(); got != 4*time.Hour {
		t.Errorf("Total = %v, want 4h", got)
	}
	u, ok := h.Uptime(t0.Add(5 * time.Hour))
	if !ok || !u.SessionStart.Equal(t0.Add(4*time.Hour)) || u.Average != 2*time.Hour || u.Sessions != 2 {
		t.Errorf("Uptime = %+v, %v", u, ok)
	}
	if err := h.Begin(t0.Add(2 * time.Hour)); !errors.Is(err, ErrInvalidHistory) {
		t.Errorf("Begin before the last end = %v", err)
	}
	if err := h.Touch(t0.Add(3 * time.Hour)); !errors.Is(err, ErrInvalidHistory) {
		t.Errorf("Touch before the session start = %v", err)
	}
	if err := h.Begin(time.Time{}); !errors.Is(err, ErrInvalidHistory) {
		t.Errorf("Begin(zero) = %v", err)
	}
}

func TestHistoryTrimsToMaxSessions(t *testing.T) {
	var h UptimeHistory
	for i := range MaxSessions + 10 {
		if err := h.Begin(t0.Add(time.Duration(i) * time.Hour)); err != nil {
			t.Fatal(err)
		}
	}
	if len(h.Sessions) != MaxSessions || !h.Sessions[0].Start.Equal(t0.Add(10*time.Hour)) {
		t.Fatalf("len %d, first %v", len(h.Sessions), h.Sessions[0].Start)
	}
	if err := h.Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestHistoryRoundTrip(t *testing.T) {
	var h UptimeHistory
	_ = h.Begin(t0)
	_ = h.Touch(t0.Add(90 * time.Minute))
	_ = h.Begin(t0.Add(2 * time.Hour))
	b, err := MarshalHistory(h)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(b), `{"version":1,"sessions":[{"start":`) {
		t.Errorf("encoding %s", b)
	}
	got, err := UnmarshalHistory(b)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Sessions) != 2 || got.Average() != h.Average() {
		t.Errorf("round trip: %+v", got)
	}
	// Empty history encodes an empty list, which decodes.
	b, _ = MarshalHistory(UptimeHistory{})
	if _, err := UnmarshalHistory(b); err != nil {
		t.Errorf("empty round trip %s: %v", b, err)
	}
	// Embedded in the caller's own state file.
	type state struct {
		History UptimeHistory `json:"history"`
	}
	b, err = json.Marshal(state{History: h})
	if err != nil {
		t.Fatal(err)
	}
	var s state
	if err := json.Unmarshal(b, &s); err != nil || len(s.History.Sessions) != 2 {
		t.Errorf("embedded: %v %+v", err, s)
	}
}

func TestHistoryRejectsBadInput(t *testing.T) {
	ts := func(d time.Duration) string { return t0.Add(d).Format(time.RFC3339) }
	sess := func(a, b time.Duration) string { return fmt.Sprintf(`{"start":%q,"end":%q}`, ts(a), ts(b)) }
	tooMany := make([]string, MaxSessions+1)
	for i := range tooMany {
		tooMany[i] = sess(time.Duration(i)*time.Hour, time.Duration(i)*time.Hour)
	}
	tests := map[string]string{
		"empty":          ``,
		"null":           `null`,
		"not an object":  `[]`,
		"no version":     `{"sessions":[]}`,
		"wrong version":  `{"version":2,"sessions":[]}`,
		"no sessions":    `{"version":1}`,
		"unknown field":  `{"version":1,"sessions":[],"x":1}`,
		"trailing data":  `{"version":1,"sessions":[]} {}`,
		"truncated":      `{"version":1,"sessions":[`,
		"bad time":       `{"version":1,"sessions":[{"start":"yesterday","end":"today"}]}`,
		"zero time":      `{"version":1,"sessions":[{"start":"0001-01-01T00:00:00Z","end":"0001-01-01T00:00:00Z"}]}`,
		"missing end":    `{"version":1,"sessions":[{"start":"` + ts(0) + `"}]}`,
		"end before":     `{"version":1,"sessions":[` + sess(time.Hour, 0) + `]}`,
		"overlapping":    `{"version":1,"sessions":[` + sess(0, 2*time.Hour) + `,` + sess(time.Hour, 3*time.Hour) + `]}`,
		"too many":       `{"version":1,"sessions":[` + strings.Join(tooMany, ",") + `]}`,
		"sessions typed": `{"version":1,"sessions":{}}`,
	}
	for name, in := range tests {
		t.Run(name, func(t *testing.T) {
			if _, err := UnmarshalHistory([]byte(in)); !errors.Is(err, ErrInvalidHistory) {
				t.Errorf("UnmarshalHistory(%.60q) = %v, want ErrInvalidHistory", in, err)
			}
		})
	}
	bad := UptimeHistory{Sessions: []Session{{Start: t0.Add(time.Hour), End: t0}}}
	if _, err := MarshalHistory(bad); !errors.Is(err, ErrInvalidHistory) {
		t.Errorf("MarshalHistory(invalid) = %v", err)
	}
}

func FuzzUnmarshalHistory(f *testing.F) {
	f.Add([]byte(`{"version":1,"sessions":[{"start":"2025-01-01T00:00:00Z","end":"2025-01-01T02:00:00Z"}]}`))
	f.Add([]byte(`{"version":1,"sessions":[]}`))
	f.Add([]byte(`{"version":1,"sessions":[{"start":"0001-01-01T00:00:00Z","end":"9999-12-31T23:59:59Z"},{"start":"9999-12-31T23:59:59Z","end":"9999-12-31T23:59:59Z"}]}`))
	f.Add([]byte(`{`))
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := UnmarshalHistory(b)
		if err != nil {
			if !errors.Is(err, ErrInvalidHistory) {
				t.Fatalf("error does not wrap ErrInvalidHistory: %v", err)
			}
			return
		}
		if err := h.Validate(); err != nil {
			t.Fatalf("accepted an invalid history: %v", err)
		}
		if h.Average() < 0 || h.Total() < 0 {
			t.Fatalf("negative average %v or total %v", h.Average(), h.Total())
		}
		if _, err := MarshalHistory(h); err != nil {
			t.Fatalf("re-marshal: %v", err)
		}
	})
}
