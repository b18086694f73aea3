package runner

import (
	"testing"
	"time"
)

func TestSuspendGap(t *testing.T) {
	const threshold = 10 * time.Second
	for _, tc := range []struct {
		name       string
		mono, wall time.Duration
		away       time.Duration
		suspended  bool
	}{
		{"a tick on time", time.Second, time.Second, 0, false},
		{"a slow tick", 4 * time.Second, 4 * time.Second, 0, false},
		{"an NTP nudge", time.Second, 3 * time.Second, 0, false},
		{"process stopped 30 s (SIGSTOP): ticks missed", 30 * time.Second, 30 * time.Second, 30 * time.Second, true},
		{"machine slept 1 h: monotonic clock stopped, wall clock ran", time.Second, time.Hour + time.Second, time.Hour + time.Second, true},
		{"wall clock set back while stopped", 30 * time.Second, -time.Hour, 30 * time.Second, true},
		{"exactly the threshold", threshold, threshold, 0, false},
	} {
		away, ok := suspendGap(tc.mono, tc.wall, threshold)
		if ok != tc.suspended || away != tc.away {
			t.Errorf("%s: suspendGap(%s, %s) = %s, %v; want %s, %v", tc.name, tc.mono, tc.wall, away, ok, tc.away, tc.suspended)
		}
	}
	if _, ok := suspendGap(time.Hour, time.Hour, 0); ok {
		t.Error("threshold 0 (off) detected a suspension")
	}
}
