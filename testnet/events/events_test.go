package events

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"
)

var testRun = Run{
	Scenario: "t", ScenarioSHA256: "abc", Seed: 3, Nodes: 4, Objects: 10,
	Duration: time.Minute, LookupTimeout: time.Second, StartUnixNano: 1,
}

func allPayloads() []Payload {
	return []Payload{
		NodeStart{Node: 0, Role: RoleSupernode, PID: 42},
		ScheduleStart{Ops: 5},
		OpIssued{OpID: 1, Op: "lookup", At: time.Second, Node: 1, Object: 2},
		OpIssued{OpID: 2, Op: "lookup", At: time.Second, Node: 3, Object: 0, Skipped: SkipNodeDown},
		OpIssued{OpID: 3, Op: "mass_failure", Node: -1, Object: -1},
		LookupResult{OpID: 1, Node: 1, Object: 2, Latency: 3 * time.Millisecond, Holders: 2, HoldersAlive: 1, Status: StatusOK},
		LookupResult{OpID: 4, Node: 1, Object: 2, Latency: time.Second, Status: StatusTimeout, Error: "deadline"},
		AnnounceResult{OpID: 5, Node: 2, Object: 0, Latency: time.Millisecond, Status: StatusOK},
		NodeKill{Node: 2, Cause: CauseTargeted},
		NodeRestart{Node: 2, Role: RoleLeaf, PID: 43, Cause: CauseTargeted},
		NodeExit{Node: 3, Code: 2, Error: "exit status 2"},
		RoleChange{Node: 1, From: RoleLeaf, To: RoleSupernode},
		SupernodeSample{Node: 1, Leaves: 3, ReqPerSec: 12.5, Utilisation: 0.125, Records: 99},
		ResourceSample{Node: 1, Role: RoleSupernode, CPUSeconds: 1.5, RSSBytes: 1 << 24},
		TrafficSample{Node: 1, Class: ClassLookup, Msgs: 10, Bytes: 1000},
		RunEnd{Reason: "done"},
		RunEnd{},
	}
}

func TestRoundTrip(t *testing.T) {
	var buf bytes.Buffer
	w, err := NewWriter(&buf, testRun)
	if err != nil {
		t.Fatal(err)
	}
	ps := allPayloads()
	for i, p := range ps {
		if err := w.Emit(time.Duration(i-1)*time.Millisecond, p); err != nil {
			t.Fatalf("emit %T: %v", p, err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if w.Count() != len(ps)+1 {
		t.Fatalf("count %d", w.Count())
	}
	log, err := ReadAll(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	if log.Run != testRun {
		t.Fatalf("run %+v != %+v", log.Run, testRun)
	}
	for i, p := range ps {
		ev := log.Events[i]
		if ev.T != time.Duration(i-1)*time.Millisecond || !reflect.DeepEqual(ev.Payload, p) || ev.Kind() != p.Kind() {
			t.Errorf("event %d: got %+v, want %+v", i, ev, p)
		}
	}
	// WriteLog reproduces the same bytes.
	var again bytes.Buffer
	if err := WriteLog(&again, log); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(again.Bytes(), buf.Bytes()) {
		t.Fatalf("WriteLog differs:\n%s\n---\n%s", again.String(), buf.String())
	}
	first := strings.SplitN(buf.String(), "\n", 3)
	if !strings.HasPrefix(first[0], `{"v":1,"t_ns":0,"kind":"run",`) ||
		first[1] != `{"v":1,"t_ns":-1000000,"kind":"node_start","node":0,"role":"supernode","pid":42}` {
		t.Fatalf("unexpected encoding:\n%s\n%s", first[0], first[1])
	}
}

func TestWriterConcurrent(t *testing.T) {
	var buf bytes.Buffer
	w, err := NewWriter(&buf, testRun)
	if err != nil {
		t.Fatal(err)
	}
	const goroutines, each = 8, 250
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			for i := range each {
				p := LookupResult{OpID: uint64(g*each + i + 1), Node: g % 4, Object: i, Status: StatusOK}
				if err := w.EmitNow(p); err != nil {
					t.Error(err)
				}
				if i%50 == 0 {
					if err := w.Flush(); err != nil {
						t.Error(err)
					}
				}
			}
		})
	}
	wg.Wait()
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	log, err := ReadAll(&buf)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[uint64]bool{}
	for _, ev := range log.Events {
		seen[ev.Payload.(LookupResult).OpID] = true
	}
	if len(log.Events) != goroutines*each || len(seen) != goroutines*each {
		t.Fatalf("%d events, %d distinct", len(log.Events), len(seen))
	}
}

type closeRecorder struct {
	bytes.Buffer
	closed int
}

func (c *closeRecorder) Close() error { c.closed++; return nil }

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

func TestWriterErrors(t *testing.T) {
	if _, err := NewWriter(io.Discard, Run{Nodes: 0, Duration: 1, LookupTimeout: 1}); !errors.Is(err, ErrInvalidEvent) {
		t.Fatalf("bad header accepted: %v", err)
	}
	cr := &closeRecorder{}
	w, err := NewWriter(cr, testRun)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []Payload{
		nil,
		testRun,
		LookupResult{Node: 4, Status: StatusOK},
		LookupResult{Node: 0, Status: "maybe"},
		LookupResult{Node: 0, Status: StatusOK, Holders: 1, HoldersAlive: 2},
		RoleChange{Node: 0, From: RoleLeaf, To: RoleLeaf},
		SupernodeSample{Node: 0, Utilisation: -1},
		TrafficSample{Node: 0},
		NodeKill{Node: 0},
		OpIssued{Node: -2, Op: "x"},
	} {
		if err := w.Emit(0, p); !errors.Is(err, ErrInvalidEvent) {
			t.Errorf("Emit(%#v) = %v, want ErrInvalidEvent", p, err)
		}
	}
	if err := w.Close(); err != nil || cr.closed != 1 {
		t.Fatalf("close: %v, closed %d", err, cr.closed)
	}
	if err := w.Close(); err != nil || cr.closed != 1 {
		t.Fatalf("second close: %v, closed %d", err, cr.closed)
	}
	if err := w.Emit(0, RunEnd{}); err == nil {
		t.Fatal("emit after close accepted")
	}
	// Write errors are sticky and surface at Flush.
	fw, err := NewWriter(failWriter{}, testRun)
	if err != nil {
		t.Fatal(err)
	}
	if err := fw.Flush(); err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Fatalf("flush error %v", err)
	}
	if err := fw.Emit(0, RunEnd{}); err == nil {
		t.Fatal("emit after write error accepted")
	}
}

const header = `{"v":1,"t_ns":0,"kind":"run","scenario":"t","seed":1,"nodes":2,"objects":1,"duration_ns":1000,"lookup_timeout_ns":10,"start_unix_ns":0}`
const okLine = `{"v":1,"t_ns":5,"kind":"node_start","node":1,"role":"leaf"}`

func TestReaderErrors(t *testing.T) {
	cases := []struct {
		name string
		log  string
		line int
		msg  string
	}{
		{"empty", "", 1, "no run header"},
		{"not header", okLine + "\n", 1, "want the"},
		{"header late", header + "\n" + header + "\n", 2, "first line"},
		{"header t", strings.Replace(header, `"t_ns":0`, `"t_ns":4`, 1) + "\n", 1, "t_ns"},
		{"bad header", strings.Replace(header, `"nodes":2`, `"nodes":0`, 1), 1, "nodes"},
		{"unknown kind", header + "\n" + okLine + "\n" + `{"v":1,"t_ns":5,"kind":"bogus"}` + "\n", 3, "unknown kind"},
		{"unknown field", header + "\n" + `{"v":1,"t_ns":5,"kind":"node_start","node":1,"role":"leaf","x":1}`, 2, "unknown field"},
		{"version", header + "\n" + `{"v":2,"t_ns":5,"kind":"node_start","node":1,"role":"leaf"}`, 2, "version"},
		{"truncated", header + "\n" + okLine + "\n" + `{"v":1,"t_ns":5,"kind":"node_st`, 3, "unexpected end"},
		{"node range", header + "\n" + `{"v":1,"t_ns":5,"kind":"node_start","node":2,"role":"leaf"}`, 2, "out of range"},
		{"role", header + "\n" + `{"v":1,"t_ns":5,"kind":"node_start","node":1,"role":"king"}`, 2, "role"},
		{"status", header + "\n" + `{"v":1,"t_ns":5,"kind":"lookup","node":1,"object":0,"latency_ns":1,"holders":0,"holders_alive":0,"status":"meh"}`, 2, "status"},
		{"alive>holders", header + "\n" + `{"v":1,"t_ns":5,"kind":"lookup","node":1,"object":0,"latency_ns":1,"holders":1,"holders_alive":2,"status":"ok"}`, 2, "holders_alive"},
		{"blank line", header + "\n\n" + okLine, 2, "unexpected end"},
		{"trailing", header + "\n" + okLine + ` {}`, 2, "after top-level value"},
		{"wrong type", header + "\n" + `{"v":1,"t_ns":5,"kind":"node_start","node":"one","role":"leaf"}`, 2, "node"},
		{"too long", header + "\n" + `{"v":1,"t_ns":5,"kind":"run_end","reason":"` + strings.Repeat("x", MaxLineBytes) + `"}`, 2, "longer than"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := ReadAll(strings.NewReader(c.log))
			var le *LineError
			if !errors.As(err, &le) {
				t.Fatalf("error %v is not a *LineError", err)
			}
			if le.Line != c.line || !strings.Contains(err.Error(), c.msg) || !strings.Contains(err.Error(), fmt.Sprintf("line %d:", c.line)) {
				t.Fatalf("got %v (line %d), want line %d containing %q", err, le.Line, c.line, c.msg)
			}
			if !errors.Is(err, ErrInvalidEvent) {
				t.Fatalf("%v does not match ErrInvalidEvent", err)
			}
		})
	}
}

func TestReaderStreaming(t *testing.T) {
	r := NewReader(strings.NewReader(header + "\n" + okLine + "\n"))
	run, err := r.Run()
	if err != nil || run.Nodes != 2 {
		t.Fatal(run, err)
	}
	ev, err := r.Next()
	if err != nil || ev.T != 5 || ev.Payload != (NodeStart{Node: 1, Role: RoleLeaf}) {
		t.Fatal(ev, err)
	}
	if _, err := r.Next(); err != io.EOF {
		t.Fatalf("want EOF, got %v", err)
	}
	if r.Line() != 2 {
		t.Fatalf("line %d", r.Line())
	}
}

// FuzzReadEvents: the reader never panics, and whatever it accepts survives
// a write/read round trip unchanged.
func FuzzReadEvents(f *testing.F) {
	var buf bytes.Buffer
	w, _ := NewWriter(&buf, testRun)
	for _, p := range allPayloads() {
		w.Emit(7, p)
	}
	w.Close()
	f.Add(buf.Bytes())
	f.Add([]byte(header + "\n" + okLine + "\n"))
	f.Add([]byte(header + "\n" + `{"v":1,"t_ns":-5,"kind":"supernode_sample","node":0,"leaves":1,"req_per_s":1e300,"utilisation":0,"records":0}`))
	f.Add([]byte(""))
	f.Add([]byte("{}\n{}"))
	f.Fuzz(func(t *testing.T, data []byte) {
		log, err := ReadAll(bytes.NewReader(data))
		if err != nil {
			var le *LineError
			if !errors.As(err, &le) || le.Line < 1 {
				t.Fatalf("error without line number: %v", err)
			}
			return
		}
		var out bytes.Buffer
		if err := WriteLog(&out, log); err != nil {
			t.Fatalf("accepted log does not re-encode: %v", err)
		}
		again, err := ReadAll(&out)
		if err != nil {
			t.Fatalf("re-encoded log unreadable: %v\n%s", err, out.String())
		}
		if !reflect.DeepEqual(log, again) {
			t.Fatalf("round trip changed the log:\n%+v\n%+v", log, again)
		}
	})
}
