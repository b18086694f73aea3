package model

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"text/tabwriter"
)

const cmdName = "supertracker-lab model"

const usageHead = `usage: supertracker-lab model [flags]

Evaluate the tracker reliability model (tracker-design paper, §4): the chance a
lookup succeeds, for a replicated server tracker or a supernode DHT tracker.

  server, n replicas in parallel:      R_server = 1 - (1 - Rs)^n           (1)
  DHT, k hops in series, m per hop:    R_DHT    = (1 - (1 - Rp)^m)^k       (2)
  node reliability (Rs or Rp):         R = P_up · P_queued                 (3)
    P_up     = MTTF / (MTTF + MTTR)
    P_queued = 1 - P_block, M/M/1/h:   P_block = (ρ^h - ρ^(h+1)) / (1 - ρ^(h+1))   (4)
               (= 1/(h+1) at ρ = 1; tends to 1 - 1/ρ for ρ > 1 and large h)
    server:    ρ = λ / (n·μ)            requests spread evenly over n servers
    supernode: ρ = λ·msgs / (S·μ)       each lookup sends msgs requests (default
                                        k, one per hop), spread evenly over S
  k defaults to max(1, ⌈log2 S⌉), the paper's upper bound on path length.
  MTTF/MTTR share one time unit; λ/μ share one rate unit.

modes:
  (default)                 evaluate --design once
  --plan --peers N --objects K [--target P]
                            capacity planning: how many supernodes and which
                            replication r reach success P for N peers and K
                            objects (the model with repair, r ≤ 8, the election's
                            defaults, OneHop's membership traffic); per-
                            supernode records, memory and bandwidth
  --repair                  the model with repair (--supernodes S, --r r,
                            --mttf/--mttr in seconds, --refresh, --ttl)
  --plan-target P           smallest --plan-var (n for server; m or supernodes
                            for dht) whose success probability is ≥ P
  --sweep PARAM --from A --to B [--steps N] [--log] [--csv F] [--plot F.png]
                            evaluate both designs over PARAM and print a
                            table; --csv/--plot write the points / a PNG with
                            both curves on one axes. PARAM is one of
                            %s
                            (replicas sets n and m together)

flags (note: -h is the queue capacity; use --help for this text):
`

const usageTail = `
exit status: 0 success; 1 planning target unreachable; 2 invalid flags or input.
`

// flagOf maps Params/spec field names (as used in *ParamError) to flags.
var flagOf = map[string]string{
	"Design": "--design", "N": "--n", "M": "--m", "K": "--k",
	"Supernodes": "--supernodes", "LookupMsgs": "--msgs",
	"MTTF": "--mttf", "MTTR": "--mttr", "Lambda": "--lambda", "Mu": "--mu", "H": "--h",
	"Target": "--plan-target", "CapacityTarget": "--target", "Peers": "--peers", "Objects": "--objects",
	"HoldPerPeer": "--hold", "LookupsPerPeer": "--lookups-per-peer", "SupernodeMTTF": "--sn-mttf", "Var": "--plan-var", "Max": "--plan-max",
	"Param": "--sweep", "From": "--from", "To": "--to", "Steps": "--steps", "LogX": "--log",
}

type cli struct {
	p                Params
	plan             bool
	cap              CapacityParams
	repair           bool
	rp               RepairParams
	design           string
	json             bool
	planTarget       float64
	planVar          string
	planMax          int
	sweep            string
	from, to         float64
	steps            int
	log              bool
	plotPath, csvOut string
}

// Main runs `supertracker-lab model` with args (the arguments after the
// subcommand name). It writes results to stdout and diagnostics to stderr
// and returns the process exit status: 0 on success, 1 when a planning
// target is unreachable, 2 on invalid flags or input.
func Main(args []string, stdout, stderr io.Writer) int {
	c := cli{p: DefaultParams()}
	fs := flag.NewFlagSet(cmdName, flag.ContinueOnError)
	var parseOut bytes.Buffer
	fs.SetOutput(&parseOut)
	d := c.p
	fs.StringVar(&c.design, "design", string(d.Design), "tracker design: server or dht")
	fs.IntVar(&c.p.N, "n", d.N, "server replicas tracking an object (eq. 1)")
	fs.IntVar(&c.p.M, "m", d.M, "replicas per DHT hop, ≤ --supernodes (eq. 2)")
	fs.IntVar(&c.p.K, "k", d.K, "DHT path length in hops; 0 = max(1, ⌈log2 supernodes⌉)")
	fs.IntVar(&c.p.Supernodes, "supernodes", d.Supernodes, "number of supernodes S in the DHT")
	fs.Float64Var(&c.p.LookupMsgs, "msgs", d.LookupMsgs, "DHT requests per lookup for the per-supernode load; 0 = k")
	fs.Float64Var(&c.p.MTTF, "mttf", d.MTTF, "mean time to failure of a tracker node (> 0; e.g. hours)")
	fs.Float64Var(&c.p.MTTR, "mttr", d.MTTR, "mean time to repair of a tracker node (≥ 0; same unit as --mttf)")
	fs.Float64Var(&c.p.Lambda, "lambda", d.Lambda, "lookup arrival rate λ offered to the whole tracker (≥ 0)")
	fs.Float64Var(&c.p.Mu, "mu", d.Mu, "service rate μ of one node, requests per unit of λ (> 0)")
	fs.IntVar(&c.p.H, "h", d.H, "M/M/1/h capacity: requests a node holds at once (≥ 1)")
	fs.BoolVar(&c.json, "json", false, "print JSON instead of text")
	fs.Float64Var(&c.planTarget, "plan-target", 0, "planning mode: target lookup success probability in (0,1], e.g. 0.999")
	fs.StringVar(&c.planVar, "plan-var", "", "planning variable: n (server; default), m or supernodes (dht; default supernodes)")
	fs.IntVar(&c.planMax, "plan-max", DefaultPlanMax, "planning mode: largest value of --plan-var to try")
	fs.StringVar(&c.sweep, "sweep", "", "sweep mode: parameter to vary (see modes)")
	fs.Float64Var(&c.from, "from", 0, "sweep mode: first value (required with --sweep)")
	fs.Float64Var(&c.to, "to", 0, "sweep mode: last value (required with --sweep)")
	fs.IntVar(&c.steps, "steps", 20, "sweep mode: number of points (integer parameters drop repeats)")
	fs.BoolVar(&c.log, "log", false, "sweep mode: geometric spacing and a logarithmic x axis (needs --from > 0)")
	fs.StringVar(&c.plotPath, "plot", "", "sweep mode: write a PNG plot of both designs to this file")
	fs.StringVar(&c.csvOut, "csv", "", "sweep mode: write the points as CSV to this file")
	c.cap = DefaultCapacityParams()
	fs.BoolVar(&c.plan, "plan", false, "capacity planning mode (--peers, --objects, --target)")
	fs.IntVar(&c.cap.Peers, "peers", 0, "plan: peers online N")
	fs.IntVar(&c.cap.Objects, "objects", 0, "plan: objects K")
	fs.Float64Var(&c.cap.Target, "target", c.cap.Target, "plan: target lookup success P")
	fs.Float64Var(&c.cap.HoldPerPeer, "hold", c.cap.HoldPerPeer, "plan: objects each peer holds")
	fs.Float64Var(&c.cap.LookupsPerPeer, "lookups-per-peer", c.cap.LookupsPerPeer, "plan: lookups per peer per second")
	fs.Float64Var(&c.cap.SupernodeMTTF, "sn-mttf", 0, "plan: supernodes' mean remaining session, s (0: from the Weibull churn fit and the 2 h uptime criterion)")
	fs.Float64Var(&c.cap.Mu, "sn-mu", c.cap.Mu, "plan: requests/s one supernode serves")
	c.rp = RepairParams{Nodes: 6, Replicas: 2, MTTF: 20, MTTR: 5, Refresh: 5, TTL: 15, Persistent: true, FailoverAnnounce: true, Attach: 2}
	fs.BoolVar(&c.repair, "repair", false, "evaluate the model with repair")
	fs.IntVar(&c.rp.Replicas, "r", c.rp.Replicas, "repair: replicas r (records on the r closest live nodes)")
	fs.Float64Var(&c.rp.Refresh, "refresh", c.rp.Refresh, "repair: holders re-announce every this many seconds")
	fs.Float64Var(&c.rp.TTL, "ttl", c.rp.TTL, "repair: record lifetime, seconds")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), usageHead, joinParams())
		printDefaults(fs)
		fmt.Fprint(fs.Output(), usageTail)
	}

	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fs.SetOutput(stdout)
			fs.Usage()
			return 0
		}
		fmt.Fprintf(stderr, "%s: %v\nrun '%s --help' for usage\n", cmdName, err, cmdName)
		return 2
	}
	if fs.NArg() > 0 {
		return c.fail(stderr, fmt.Errorf("unexpected argument %q", fs.Arg(0)))
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	c.p.Design = Design(c.design)
	if c.plan {
		return c.runCapacity(stdout, stderr)
	}
	if c.repair {
		c.rp.Nodes, c.rp.MTTF, c.rp.MTTR = c.p.Supernodes, c.p.MTTF, c.p.MTTR
		if set["m"] {
			c.rp.Attach = c.p.M
		}
		return c.runRepair(stdout, stderr)
	}

	// Validate every parameter, whichever design it belongs to, so that a
	// bad flag is never silently ignored.
	if c.p.Design != Server && c.p.Design != DHT {
		return c.fail(stderr, c.p.Validate())
	}
	for _, dz := range []Design{Server, DHT} {
		q := c.p
		q.Design = dz
		if err := q.Validate(); err != nil {
			return c.fail(stderr, err)
		}
	}

	sweepOnly := []string{"from", "to", "steps", "log", "plot", "csv"}
	planOnly := []string{"plan-var", "plan-max"}
	switch {
	case set["sweep"] && set["plan-target"]:
		return c.fail(stderr, errors.New("--sweep and --plan-target cannot be combined"))
	case set["sweep"]:
		for _, f := range planOnly {
			if set[f] {
				return c.fail(stderr, fmt.Errorf("--%s needs --plan-target", f))
			}
		}
		if !set["from"] || !set["to"] {
			return c.fail(stderr, errors.New("--sweep needs --from and --to"))
		}
		return c.runSweep(stdout, stderr)
	case set["plan-target"]:
		for _, f := range sweepOnly {
			if set[f] {
				return c.fail(stderr, fmt.Errorf("--%s needs --sweep", f))
			}
		}
		if c.planMax < 1 {
			return c.fail(stderr, paramErr("Max", c.planMax, "must be ≥ 1"))
		}
		return c.runPlan(stdout, stderr)
	default:
		for _, f := range append(sweepOnly, planOnly...) {
			if set[f] {
				need := "--sweep"
				if f == "plan-var" || f == "plan-max" {
					need = "--plan-target"
				}
				return c.fail(stderr, fmt.Errorf("--%s needs %s", f, need))
			}
		}
		return c.runEval(stdout, stderr)
	}
}

// printDefaults is flag.PrintDefaults with GNU-style "--name" spelling.
func printDefaults(fs *flag.FlagSet) {
	fs.VisitAll(func(f *flag.Flag) {
		name, usage := flag.UnquoteUsage(f)
		line := "  --" + f.Name
		if name != "" {
			line += " " + name
		}
		line += "\n    \t" + strings.ReplaceAll(usage, "\n", "\n    \t")
		if f.DefValue != "" && f.DefValue != "0" && f.DefValue != "false" {
			line += fmt.Sprintf(" (default %s)", f.DefValue)
		}
		fmt.Fprintln(fs.Output(), line)
	})
}

func joinParams() string {
	s := make([]string, len(SweepParams))
	for i, p := range SweepParams {
		s[i] = string(p)
	}
	return strings.Join(s, ", ")
}

// fail prints err, naming the flag of a *ParamError, and returns 2.
func (c *cli) fail(stderr io.Writer, err error) int {
	fmt.Fprintf(stderr, "%s: %s\nrun '%s --help' for usage\n", cmdName, describe(err), cmdName)
	return 2
}

func describe(err error) string {
	var pe *ParamError
	if !errors.As(err, &pe) {
		return err.Error()
	}
	name, ok := flagOf[pe.Field]
	if !ok {
		name = pe.Field
	}
	prefix := strings.TrimSuffix(err.Error(), pe.Error())
	reason := pe.Reason
	for field, fl := range flagOf { // speak in flags: "≤ Supernodes (64)" → "≤ --supernodes (64)"
		reason = strings.ReplaceAll(reason, " "+field+" (", " "+fl+" (")
	}
	return fmt.Sprintf("%sinvalid value %s for %s: %s", prefix, pe.Value, name, reason)
}

func (c *cli) writeJSON(stdout io.Writer, v any) error {
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func (c *cli) runEval(stdout, stderr io.Writer) int {
	res, err := Evaluate(c.p)
	if err != nil {
		return c.fail(stderr, err)
	}
	if c.json {
		if err := c.writeJSON(stdout, res); err != nil {
			fmt.Fprintf(stderr, "%s: %v\n", cmdName, err)
			return 1
		}
		return 0
	}
	writeResult(stdout, res)
	return 0
}

func writeResult(w io.Writer, r Result) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	in := r.Inputs
	fmt.Fprintf(tw, "design\t%s\n", r.Design)
	if r.Design == Server {
		fmt.Fprintf(tw, "n\t%d\n", in.N)
	} else {
		fmt.Fprintf(tw, "supernodes\t%d\n", in.Supernodes)
		fmt.Fprintf(tw, "m\t%d\n", in.M)
		auto := ""
		if in.K == 0 {
			auto = " (auto: max(1, ⌈log2 supernodes⌉))"
		}
		fmt.Fprintf(tw, "k\t%d%s\n", r.PathLength, auto)
		fmt.Fprintf(tw, "msgs per lookup\t%g\n", r.MsgsPerLookup)
	}
	fmt.Fprintf(tw, "mttf / mttr\t%g / %g\n", in.MTTF, in.MTTR)
	fmt.Fprintf(tw, "lambda / mu / h\t%g / %g / %d\n", in.Lambda, in.Mu, in.H)
	fmt.Fprintf(tw, "node lambda\t%.6g\n", r.NodeLambda)
	fmt.Fprintf(tw, "rho\t%.6g\n", r.Rho)
	fmt.Fprintf(tw, "p_up\t%.9g\n", r.PUp)
	fmt.Fprintf(tw, "p_block\t%.6g\n", r.PBlock)
	fmt.Fprintf(tw, "p_queued\t%.9g\n", r.PQueued)
	fmt.Fprintf(tw, "node_reliability\t%.9g\n", r.NodeReliability)
	fmt.Fprintf(tw, "reliability\t%.12g\n", r.Reliability)
	fmt.Fprintf(tw, "unreliability\t%.6g\n", r.Unreliability)
	tw.Flush()
}

func (c *cli) runPlan(stdout, stderr io.Writer) int {
	v := PlanVar(c.planVar)
	if v == "" {
		v = PlanN
		if c.p.Design == DHT {
			v = PlanSupernodes
		}
	}
	pr, err := Plan(c.p, c.planTarget, v, c.planMax)
	if err != nil && !errors.Is(err, ErrUnreachable) {
		return c.fail(stderr, err)
	}
	if c.json {
		if err := c.writeJSON(stdout, pr); err != nil {
			fmt.Fprintf(stderr, "%s: %v\n", cmdName, err)
			return 1
		}
	} else if pr.Reachable {
		fmt.Fprintf(stdout, "smallest %s reaching %g: %d (reliability %.12g)\n\n", pr.Var, pr.Target, pr.Value, pr.Result.Reliability)
		writeResult(stdout, pr.Result)
	} else {
		fmt.Fprintf(stdout, "unreachable: %s\n", pr.Reason)
	}
	if !pr.Reachable {
		fmt.Fprintf(stderr, "%s: target %g unreachable\n", cmdName, pr.Target)
		return 1
	}
	return 0
}

func (c *cli) runSweep(stdout, stderr io.Writer) int {
	spec := SweepSpec{Param: SweepParam(c.sweep), From: c.from, To: c.to, Steps: c.steps, Log: c.log}
	pts, err := Sweep(c.p, spec)
	if err != nil {
		return c.fail(stderr, err)
	}
	if c.csvOut != "" {
		if err := writeFile(c.csvOut, func(w io.Writer) error { return WriteCSV(w, spec.Param, pts) }); err != nil {
			return c.fail(stderr, fmt.Errorf("--csv: %w", err))
		}
	}
	if c.plotPath != "" {
		err := writeFile(c.plotPath, func(w io.Writer) error {
			return WritePlot(w, spec.Param, pts, PlotOptions{LogX: spec.Log})
		})
		if err != nil {
			return c.fail(stderr, fmt.Errorf("--plot: %w", err))
		}
	}
	if c.json {
		out := struct {
			Spec   SweepSpec    `json:"spec"`
			Points []SweepPoint `json:"points"`
		}{spec, pts}
		if err := c.writeJSON(stdout, out); err != nil {
			fmt.Fprintf(stderr, "%s: %v\n", cmdName, err)
			return 1
		}
		return 0
	}
	if err := WriteTable(stdout, spec.Param, pts); err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", cmdName, err)
		return 1
	}
	return 0
}

func (c *cli) runCapacity(stdout, stderr io.Writer) int {
	if c.cap.Peers == 0 || c.cap.Objects == 0 {
		return c.fail(stderr, errors.New("--plan needs --peers and --objects"))
	}
	pl, err := PlanCapacity(c.cap)
	if err != nil {
		return c.fail(stderr, err)
	}
	if c.json {
		if err := c.writeJSON(stdout, pl); err != nil {
			fmt.Fprintf(stderr, "%s: %v\n", cmdName, err)
			return 1
		}
	} else {
		writeCapacity(stdout, pl)
	}
	if !pl.Reachable {
		fmt.Fprintf(stderr, "%s: target %g unreachable with r ≤ %d\n", cmdName, c.cap.Target, maxPlanReplicas)
		return 1
	}
	return 0
}

func writeCapacity(w io.Writer, pl CapacityPlan) {
	in := pl.Inputs
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "peers N / objects K / target P\t%d / %d / %g\n", in.Peers, in.Objects, in.Target)
	fmt.Fprintf(tw, "supernodes\t%d (election fill: %d; load at ρ ≤ %g: %d)\n", pl.Supernodes, pl.ByFill, in.RhoMax, pl.ByLoad)
	fmt.Fprintf(tw, "replication r\t%d (model with repair: success %.6f)\n", pl.Replicas, pl.Reliability)
	fmt.Fprintf(tw, "leaves / sessions per supernode\t%.1f / %.1f\n", pl.LeavesPerSupernode, pl.SessionsPerSupernode)
	fmt.Fprintf(tw, "records per supernode\t%.0f (mean holders per object %.2f)\n", pl.RecordsPerSupernode, pl.HoldersMean)
	fmt.Fprintf(tw, "memory per supernode\t%.1f MB\n", pl.MemPerSupernode/1e6)
	fmt.Fprintf(tw, "supernode churn\tmean remaining session %.1f h; %.2f membership events/s (OneHop: 2S/MTTF)\n", pl.SupernodeMTTF/3600, pl.EventsPerS)
	fmt.Fprintf(tw, "utilisation ρ\t%.4f (μ = %g req/s)\n", pl.Rho, in.Mu)
	for _, side := range []struct {
		name string
		m    map[string]float64
	}{{"bandwidth per supernode", pl.SupernodeBps}, {"bandwidth per leaf", pl.LeafBps}} {
		var parts []string
		for _, k := range sortedKeys(side.m) {
			parts = append(parts, fmt.Sprintf("%s %.0f", k, side.m[k]))
		}
		fmt.Fprintf(tw, "%s\t%.0f B/s (%s)\n", side.name, Total(side.m), strings.Join(parts, ", "))
	}
	tw.Flush()
}

func (c *cli) runRepair(stdout, stderr io.Writer) int {
	res, err := EvaluateRepair(c.rp)
	if err != nil {
		return c.fail(stderr, err)
	}
	if c.json {
		if err := c.writeJSON(stdout, res); err != nil {
			fmt.Fprintf(stderr, "%s: %v\n", cmdName, err)
			return 1
		}
		return 0
	}
	fmt.Fprintf(stdout, "model with repair: S = %d, r = %d, MTTF %g s, MTTR %g s, refresh %g s, TTL %g s\n%s\n",
		c.rp.Nodes, c.rp.Replicas, c.rp.MTTF, c.rp.MTTR, c.rp.Refresh, c.rp.TTL, res)
	return 0
}

func sortedKeys(m map[string]float64) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func writeFile(path string, fn func(io.Writer) error) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := fn(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
