package model

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func run(args ...string) (code int, stdout, stderr string) {
	var o, e bytes.Buffer
	code = Main(args, &o, &e)
	return code, o.String(), e.String()
}

func TestCLIJSON(t *testing.T) {
	code, out, errOut := run("--design", "server", "--n", "3", "--lambda", "1", "--mu", "1",
		"--mttf", "9", "--mttr", "1", "--h", "2", "--json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(out), &m); err != nil {
		t.Fatalf("bad JSON %q: %v", out, err)
	}
	for _, k := range []string{"reliability", "node_reliability", "p_up", "p_queued", "p_block", "rho", "unreliability", "inputs"} {
		if _, ok := m[k]; !ok {
			t.Errorf("JSON lacks %q: %s", k, out)
		}
	}
	// ρ = 1/(3·1) = 1/3, h=2: P_block = (1/9 - 1/27)/(1 - 1/27) = (2/27)/(26/27) = 1/13.
	// Rs = 0.9·12/13; R = 1 - (1 - 10.8/13)³ = 1 - (2.2/13)³.
	var r Result
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatal(err)
	}
	near(t, "rho", r.Rho, 1.0/3, 1e-15)
	near(t, "p_block", r.PBlock, 1.0/13, 1e-15)
	near(t, "reliability", r.Reliability, 1-(2.2/13)*(2.2/13)*(2.2/13), 1e-14)
	if r.Inputs.N != 3 || r.Inputs.Design != Server || r.Inputs.H != 2 {
		t.Errorf("inputs not echoed: %+v", r.Inputs)
	}

	// Defaults (DHT) in text mode.
	code, out, _ = run()
	if code != 0 || !strings.Contains(out, "reliability") || !strings.Contains(out, "dht") {
		t.Fatalf("defaults: exit %d, %q", code, out)
	}
}

func TestCLIHelp(t *testing.T) {
	code, out, _ := run("--help")
	if code != 0 {
		t.Fatalf("--help exit %d", code)
	}
	for _, f := range []string{"--design", "--n", "--m", "--k", "--supernodes", "--mttf", "--mttr",
		"--lambda", "--mu", "--h", "--msgs", "--json", "--plan-target", "--plan-var", "--plan-max",
		"--sweep", "--from", "--to", "--steps", "--log", "--plot", "--csv", "R_server", "R_DHT", "P_block"} {
		if !strings.Contains(out, f) {
			t.Errorf("usage lacks %q", f)
		}
	}
}

func TestCLIBadInput(t *testing.T) {
	cases := []struct {
		args []string
		want string // must appear in stderr
	}{
		{[]string{"--mttf", "NaN"}, "--mttf"},
		{[]string{"--mttf", "-1"}, "--mttf"},
		{[]string{"--mttr", "+Inf"}, "--mttr"},
		{[]string{"--lambda", "-3"}, "--lambda"},
		{[]string{"--mu", "0"}, "--mu"},
		{[]string{"--h", "0"}, "--h"},
		{[]string{"--n", "0"}, "--n"},
		{[]string{"--design", "server", "--m", "0"}, "--m"}, // checked whatever the design
		{[]string{"--m", "100"}, "--supernodes"},
		{[]string{"--k", "-2"}, "--k"},
		{[]string{"--supernodes", "0"}, "--supernodes"},
		{[]string{"--msgs", "-1"}, "--msgs"},
		{[]string{"--design", "p2p"}, "--design"},
		{[]string{"--n", "abc"}, "-n"},
		{[]string{"--nope"}, "nope"},
		{[]string{"extra"}, "unexpected argument"},
		{[]string{"--plan-target", "1.5"}, "--plan-target"},
		{[]string{"--plan-target", "0.9", "--plan-var", "n"}, "--plan-var"}, // n is for server
		{[]string{"--plan-target", "0.9", "--plan-var", "zz"}, "--plan-var"},
		{[]string{"--plan-max", "5"}, "--plan-target"},
		{[]string{"--plan-target", "0.9", "--plan-max", "0"}, "--plan-max"},
		{[]string{"--sweep", "lambda"}, "--from"},
		{[]string{"--sweep", "bogus", "--from", "1", "--to", "2"}, "--sweep"},
		{[]string{"--sweep", "lambda", "--from", "2", "--to", "1"}, "--to"},
		{[]string{"--sweep", "lambda", "--from", "1", "--to", "2", "--steps", "0"}, "--steps"},
		{[]string{"--sweep", "m", "--from", "1", "--to", "100"}, "--m"},
		{[]string{"--sweep", "lambda", "--from", "0", "--to", "2", "--log"}, "--from"},
		{[]string{"--sweep", "lambda", "--from", "1", "--to", "2", "--plan-target", "0.9"}, "cannot be combined"},
		{[]string{"--from", "1"}, "--sweep"},
		{[]string{"--plot", "x.png"}, "--sweep"},
		{[]string{"--sweep", "lambda", "--from", "1", "--to", "2", "--csv", "/nonexistent-dir/x.csv"}, "--csv"},
	}
	for _, c := range cases {
		code, out, errOut := run(c.args...)
		if code != 2 {
			t.Errorf("%v: exit %d, want 2 (stdout %q)", c.args, code, out)
			continue
		}
		if !strings.Contains(errOut, c.want) {
			t.Errorf("%v: stderr %q lacks %q", c.args, errOut, c.want)
		}
	}
}

func TestCLIPlan(t *testing.T) {
	// Defaults, server: n = 3 reaches 0.999 (see TestPlanServerHandComputed).
	code, out, errOut := run("--design", "server", "--plan-target", "0.999", "--json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var pr PlanResult
	if err := json.Unmarshal([]byte(out), &pr); err != nil {
		t.Fatal(err)
	}
	if !pr.Reachable || pr.Value != 3 || pr.Var != PlanN {
		t.Fatalf("plan %+v", pr)
	}
	code, out, _ = run("--design", "server", "--plan-target", "0.999")
	if code != 0 || !strings.Contains(out, "smallest n reaching 0.999: 3") {
		t.Fatalf("text plan: exit %d %q", code, out)
	}
	// DHT, m = 1 cannot exceed P_up = 0.96: unreachable, exit 1.
	code, out, errOut = run("--m", "1", "--plan-target", "0.99")
	if code != 1 || !strings.Contains(out, "unreachable") || !strings.Contains(errOut, "unreachable") {
		t.Fatalf("unreachable: exit %d, %q, %q", code, out, errOut)
	}
	code, out, _ = run("--m", "1", "--plan-target", "0.99", "--json")
	if err := json.Unmarshal([]byte(out), &pr); code != 1 || err != nil || pr.Reachable || pr.Reason == "" {
		t.Fatalf("unreachable JSON: exit %d, %v, %+v", code, err, pr)
	}
	// m planning.
	code, out, _ = run("--plan-target", "0.9999", "--plan-var", "m")
	if code != 0 || !strings.Contains(out, "smallest m reaching 0.9999: 4") {
		t.Fatalf("m plan: exit %d %q", code, out)
	}
}

func TestCLISweepFiles(t *testing.T) {
	dir := t.TempDir()
	png := filepath.Join(dir, "out.png")
	csvPath := filepath.Join(dir, "out.csv")
	code, out, errOut := run("--sweep", "lambda", "--from", "100", "--to", "1e6", "--steps", "15", "--log",
		"--plot", png, "--csv", csvPath)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if lines := strings.Count(out, "\n"); lines != 16 {
		t.Errorf("table has %d lines, want 16:\n%s", lines, out)
	}
	b, err := os.ReadFile(png)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(b, pngMagic) {
		t.Errorf("%s is not a PNG: % x", png, b[:min(len(b), 8)])
	}
	f, err := os.Open(csvPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 16 { // header + 15 points
		t.Fatalf("csv has %d rows, want 16", len(rows))
	}
	if rows[0][2] != "server_reliability" || rows[1][0] != "lambda" || rows[1][1] != "100" || rows[15][1] != "1e+06" {
		t.Errorf("csv content: %v … %v", rows[:2], rows[15])
	}

	// JSON sweep.
	code, out, _ = run("--sweep", "replicas", "--from", "1", "--to", "5", "--steps", "5", "--json")
	var js struct {
		Spec   SweepSpec    `json:"spec"`
		Points []SweepPoint `json:"points"`
	}
	if err := json.Unmarshal([]byte(out), &js); code != 0 || err != nil || len(js.Points) != 5 {
		t.Fatalf("json sweep: exit %d, %v, %d points", code, err, len(js.Points))
	}
}
