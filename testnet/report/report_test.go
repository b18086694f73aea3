package report

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"image/png"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/supertracker/supertracker/testnet/events"
	"github.com/supertracker/supertracker/testnet/metrics"
)

const handmade = "../metrics/testdata/handmade.jsonl"

func TestWriteHandmade(t *testing.T) {
	log, err := events.ReadFile(handmade)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "out")
	s, files, err := Generate(dir, log, metrics.Options{Bin: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{SummaryJSON, SummaryText, LookupsCSV, SupernodesCSV, BinsCSV, SupernodeCountCSV, FailuresCSV, SuccessPNG, LatencyPNG, SupernodesPNG}
	if len(files) != len(want) {
		t.Fatalf("files %v", files)
	}
	for i, f := range files {
		if filepath.Base(f) != want[i] {
			t.Fatalf("file %d is %s, want %s", i, f, want[i])
		}
		if st, err := os.Stat(f); err != nil || st.Size() == 0 {
			t.Fatalf("%s: %v", f, err)
		}
	}
	for _, name := range []string{SuccessPNG, LatencyPNG, SupernodesPNG} {
		checkPNG(t, filepath.Join(dir, name))
	}
	for name, rows := range map[string]int{LookupsCSV: 1 + 8, SupernodesCSV: 1 + 3, BinsCSV: 1 + 2, SupernodeCountCSV: 1 + 5, FailuresCSV: 1 + 6} {
		recs := readCSV(t, filepath.Join(dir, name))
		if len(recs) != rows {
			t.Errorf("%s: %d rows, want %d", name, len(recs), rows)
		}
	}
	lk := readCSV(t, filepath.Join(dir, LookupsCSV))
	if strings.Join(lk[0], ",") != "issued_s,done_s,op_id,node,object,status,latency_ms,holders,holders_alive,outcome,success,answerable" ||
		strings.Join(lk[4], ",") != "8,8.04,8,2,0,ok,40,1,0,dead_holders,false,false" {
		t.Errorf("lookups.csv rows: %v / %v", lk[0], lk[4])
	}
	sn := readCSV(t, filepath.Join(dir, SupernodesCSV))
	if strings.Join(sn[3], ",") != "11,2,1,2,0.75,5" {
		t.Errorf("supernodes.csv row: %v", sn[3])
	}
	// summary.json is the Summary.
	data, _ := os.ReadFile(filepath.Join(dir, SummaryJSON))
	var back metrics.Summary
	if err := json.Unmarshal(data, &back); err != nil || !reflect.DeepEqual(&back, s) {
		t.Fatalf("summary.json does not round-trip: %v", err)
	}
	text, _ := os.ReadFile(filepath.Join(dir, SummaryText))
	for _, key := range []string{
		"scenario handmade", "4 nodes", "window 20.0 s",
		"success 37.5% (3/8)", "answerable-only 60.0% (3/5)",
		"timeout 1, error 1, no holders 1, dead holders 1, late 1",
		"p50 30.0 ms  p95 1500.0 ms  p99 1500.0 ms", "timeout 1000.0 ms",
		"ok 66.7% (2/3)",
		"min 0  mean 1.32  max 2", "utilisation mean 0.500 max 0.750",
		"2 role changes (1 promotions, 1 demotions) on 2 nodes",
		"7 churn events: 3 kills (churn 1, mass_failure 1, targeted 1), 3 restarts, 1 exits, 1 mass failures; availability 86.9%",
		"per lookup 4.00 msgs", "per announce 2.00 msgs",
		"Failed lookups   5: issuer restarted moments before (still attaching) 2; answer without a live holder 1; issuer had no supernode (none with a free slot) 1; mass failure 1",
		"Failed announces 1: unexplained 1",
		"leaf      CPU 0.083 cores", "RSS mean 47.7 MiB max 76.3 MiB  (n=3)",
		"supernode CPU 0.250 cores", "RSS mean 104.9 MiB max 114.4 MiB  (n=2)",
		"19 issued, 1 skipped",
	} {
		if !strings.Contains(string(text), key) {
			t.Errorf("text summary lacks %q:\n%s", key, text)
		}
	}
	if n := strings.Count(string(text), "\n"); n > 24 {
		t.Errorf("text summary has %d lines, more than a screen", n)
	}
}

func checkPNG(t *testing.T, path string) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(data, []byte("\x89PNG\r\n\x1a\n")) {
		t.Fatalf("%s: not a PNG header: % x", path, data[:min(8, len(data))])
	}
	img, err := png.Decode(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if b := img.Bounds(); b.Dx() < 400 || b.Dy() < 200 {
		t.Fatalf("%s: %v", path, b)
	}
}

func readCSV(t *testing.T, path string) [][]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return recs
}

// An empty run (no events besides the header) still produces every file.
func TestWriteEmpty(t *testing.T) {
	log := &events.Log{Run: events.Run{Scenario: "empty", Nodes: 3, Duration: 30 * time.Second, LookupTimeout: time.Second}}
	dir := t.TempDir()
	s, files, err := Generate(dir, log, metrics.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 10 {
		t.Fatal(files)
	}
	for _, name := range []string{SuccessPNG, LatencyPNG, SupernodesPNG} {
		checkPNG(t, filepath.Join(dir, name))
	}
	if n := len(readCSV(t, filepath.Join(dir, LookupsCSV))); n != 1 {
		t.Fatalf("lookups.csv has %d rows", n)
	}
	var buf bytes.Buffer
	if err := WriteText(&buf, s); err != nil || !strings.Contains(buf.String(), "success n/a (0/0)") ||
		!strings.Contains(buf.String(), "Resources   no samples") {
		t.Fatalf("%v\n%s", err, buf.String())
	}
}

func TestProgress(t *testing.T) {
	var buf bytes.Buffer
	for _, mode := range []ProgressMode{ProgressAuto, ProgressOff} {
		p := NewProgress(&buf, 10, "run", mode)
		p.Add(3)
		p.Set(5)
		p.Describe("x")
		p.Finish()
		if p.Enabled() || buf.Len() != 0 {
			t.Fatalf("mode %d drew on a non-terminal: %q", mode, buf.String())
		}
	}
	var nilP *Progress
	nilP.Add(1)
	nilP.Finish()
	if nilP.Enabled() || IsTerminal(&buf) {
		t.Fatal("nil progress enabled / buffer is a terminal")
	}
	p := NewProgress(&buf, 10, "testnet", ProgressOn)
	if !p.Enabled() {
		t.Fatal("ProgressOn disabled")
	}
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 5 {
				p.Add(1) // 20 > max: clamped
			}
		})
	}
	wg.Wait()
	p.Set(-3)
	p.Finish()
	if out := buf.String(); !strings.Contains(out, "testnet") || !strings.Contains(out, "100%") || !strings.Contains(out, "10/10") {
		t.Fatalf("progress output %q", out)
	}
}
