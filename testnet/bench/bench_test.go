package bench

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/supertracker/supertracker/testnet/baseline/helper"
)

// helperEnv makes the test binary act as the flat-DHT baseline helper
// (P4's server process), so the smoke test needs no second build.
const helperEnv = "SUPERTRACKER_BENCH_HELPER"

func TestMain(m *testing.M) {
	if os.Getenv(helperEnv) == "1" {
		os.Exit(helper.Main(os.Args[1:], os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

// TestSmoke runs the whole bench on tiny networks for a few seconds and
// checks the report's form: rows P1–P5 and growth, each with a baseline
// measured in the same run, and the table and plot written. It asserts no
// speed.
func TestSmoke(t *testing.T) {
	ot, err := exec.LookPath("opentracker")
	if err != nil {
		t.Skip("opentracker is not installed: apt-get install opentracker (Debian package `opentracker`)")
	}
	dir := t.TempDir()
	// P4's leaf process is the leaf-only build, as make bench runs it.
	bin := filepath.Join(dir, "supertracker-leaf")
	build := exec.Command("go", "build", "-tags", "leafonly", "-o", bin, "./cmd/supertracker")
	build.Dir = filepath.Join("..", "..")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build -tags leafonly ./cmd/supertracker: %v\n%s", err, out)
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var progress strings.Builder
	rep, err := Run(ctx, Options{
		Config: SmokeConfig(),
		Binary: bin,
		Helper: func(args ...string) *exec.Cmd {
			c := exec.Command(self, args...)
			c.Env = append(os.Environ(), helperEnv+"=1")
			return c
		},
		Opentracker: ot,
		Out:         out,
		Progress:    &progress,
	})
	if err != nil {
		t.Fatalf("bench: %v\nprogress:\n%s", err, progress.String())
	}

	got, err := ReadReport(filepath.Join(out, "bench.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := got.Validate(); err != nil {
		t.Fatal(err)
	}
	if len(got.Rows) != len(rep.Rows) || got.Git != rep.Git {
		t.Errorf("bench.json has %d rows, git %q; Run returned %d, %q", len(got.Rows), got.Git, len(rep.Rows), rep.Git)
	}
	// Each P1 variant against both baselines, both P3 variants, P4's RSS
	// row, P5 against kad-dht and opentracker: counted, not just present.
	count := map[string]int{}
	for _, r := range got.Rows {
		count[r.ID+" "+r.Baseline]++
		// P4's CPU rows may miss rounds (an idle process can use no 10 ms
		// tick, or no measurable run time, in the smoke's short window);
		// every other row has every round.
		if r.Rounds != got.Config.Rounds && !strings.Contains(r.Metric, "idle CPU") {
			t.Errorf("%s %s %s: %d rounds, want %d", r.ID, r.Variant, r.Metric, r.Rounds, got.Config.Rounds)
		}
	}
	for key, want := range map[string]int{
		"P1 " + baseFlat: 6, "P1 " + baseTracker: 2, "P5 " + baseKadStore: 2, "P5 " + baseTrackerRSS: 1,
		"P2 " + baseFlat + " (Provide → FindProvidersAsync)": 1, "P2 " + baseFlat + " (Provide call)": 1,
	} {
		if count[key] != want {
			t.Errorf("%d rows %q, want %d (all: %v)", count[key], key, want, count)
		}
	}
	p3 := 0
	for _, r := range got.Rows {
		if r.ID == "P3" && strings.HasSuffix(r.Metric, HigherIsBetter) {
			p3++
		}
	}
	if p3 != 2 {
		t.Errorf("%d P3 throughput rows marked %q, want 2", p3, HigherIsBetter)
	}
	for _, f := range []string{"bench.md", "bench.png"} {
		st, err := os.Stat(filepath.Join(out, f))
		if err != nil || st.Size() == 0 {
			t.Errorf("%s: %v (size %d)", f, err, sizeOf(st))
		}
	}
	if _, err := os.Stat(filepath.Join(out, "work")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("scratch directory left behind: %v", err)
	}
	// Every process the bench started is gone.
	if out, err := exec.Command("pgrep", "-a", "-f", dir).Output(); err == nil {
		t.Errorf("processes left behind:\n%s", out)
	}
}

func sizeOf(st os.FileInfo) int64 {
	if st == nil {
		return 0
	}
	return st.Size()
}
