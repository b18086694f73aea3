package attack

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
)

// The short attack suite (what make test runs; make attack runs the full
// one): every attack of issue 14 with its outcome asserted, never a speed.

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// binary builds cmd/supertracker once into the test's temp area.
func binary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "supertracker-attack-test")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "supertracker")
		cmd := exec.Command("go", "build", "-o", binPath, "./cmd/supertracker")
		cmd.Dir = filepath.Join("..", "..") // the module root
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = errors.New(err.Error() + "\n" + string(out))
		}
	})
	if buildErr != nil {
		t.Fatalf("building the binary: %v", buildErr)
	}
	return binPath
}

func TestMain(m *testing.M) {
	code := m.Run()
	if binPath != "" {
		os.RemoveAll(filepath.Dir(binPath))
	}
	os.Exit(code)
}

func check(t *testing.T, rows []Row) {
	t.Helper()
	var buf bytes.Buffer
	Print(&buf, rows)
	t.Logf("\n%s", buf.String())
	if len(rows) == 0 {
		t.Fatal("no rows")
	}
	for _, r := range rows {
		if !r.Pending && !r.Open && !r.Pass {
			t.Errorf("%s: %s (bound: %s)", r.Attack, r.Outcome, r.Bound)
		}
	}
}

func TestAttackSuite(t *testing.T) {
	for _, p := range []struct {
		name  string
		point int
		bin   bool
	}{{"injection", 1, false}, {"eclipse", 2, false}, {"lyingprimary", 3, false}, {"flood", 4, true}, {"web", 5, true}} {
		t.Run(p.name, func(t *testing.T) {
			o := Options{Short: true, Points: []int{p.point}}
			if p.bin {
				o.Binary = binary(t)
			}
			check(t, Run(t.Context(), o))
		})
	}
}
