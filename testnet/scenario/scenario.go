package scenario

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/supertracker/supertracker/testnet/scenarios"
)

// ErrInvalidScenario is wrapped by every parse or validation error.
var ErrInvalidScenario = errors.New("invalid scenario")

// Limits enforced by Validate.
const (
	MaxNodes           = 1000
	MaxObjects         = 1_000_000
	MaxRate            = 10_000 // events per second
	MaxDuration        = 24 * time.Hour
	DefaultMaxEvents   = 100_000    // used when max_events is 0 / absent
	HardMaxEvents      = 10_000_000 // largest accepted max_events
	MaxScenarioBytes   = 1 << 20
	MaxTargetedKillsAt = 10_000
)

// Role hints for a profile's nodes (the role a node starts in).
const (
	RoleLeaf      = "leaf"      // start as a leaf
	RoleSupernode = "supernode" // start as a supernode (bootstrap)
	RoleAuto      = "auto"      // start as a leaf, let the election decide
)

// Scenario is one testnet run description. JSON field names are given in the
// struct tags; see testnet/scenarios/default.json for a complete example.
type Scenario struct {
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
	// Seed for the workload generator (workload.Generate may override it).
	Seed uint64 `json:"seed"`
	// Duration of the scheduled run (from schedule time zero), > 0.
	Duration Duration `json:"duration"`
	// Warmup at the start of the run: only the initial announces happen;
	// lookups, steady announces and churn start after it. 0 <= warmup < duration.
	Warmup Duration `json:"warmup"`
	// NodeCount is the number of node processes; must equal the sum of the
	// profile counts.
	NodeCount int       `json:"nodes"`
	Profiles  []Profile `json:"profiles"`
	// Objects is K, the number of distinct objects (CIDs), 1..MaxObjects.
	Objects int  `json:"objects"`
	Zipf    Zipf `json:"zipf"`
	// InitialHolders: during the warmup each object is announced by this many
	// distinct nodes (0..nodes). 0 means no initial announces.
	InitialHolders int `json:"initial_holders"`
	// AnnounceRate λa and LookupRate λl: Poisson rates per second over the
	// whole testnet, after the warmup.
	AnnounceRate  float64  `json:"announce_rate"`
	LookupRate    float64  `json:"lookup_rate"`
	LookupTimeout Duration `json:"lookup_timeout"`
	Churn         Churn    `json:"churn"`
	Election      Election `json:"election"`
	// MaxEvents caps the generated schedule; 0 means DefaultMaxEvents.
	MaxEvents int `json:"max_events"`
}

// Profile is a group of identical nodes.
type Profile struct {
	Name  string `json:"name"`
	Count int    `json:"count"`
	// UploadBps is the upload bandwidth cap in bytes per second (> 0).
	UploadBps int64 `json:"upload_bps"`
	// MTTF and MTTR are means of the exponential up and down times used for
	// random churn; "none" for MTTF means the node never fails at random,
	// "none" for MTTR means a failed node is never restarted.
	MTTF Duration `json:"mttf"`
	MTTR Duration `json:"mttr"`
	// Role is the initial role hint: "leaf", "supernode" or "auto".
	Role string `json:"role"`
}

// Zipf parameters: object of rank k (0-based) is drawn with probability
// proportional to 1/(v+k)^s (the Zipf–Mandelbrot law, same parametrisation as
// math/rand's Zipf). s >= 0 (s = 0 is uniform), v >= 1.
type Zipf struct {
	S float64 `json:"s"`
	V float64 `json:"v"`
}

// Churn describes failures. When Enabled is false no node is killed at all
// (MTTF/MTTR, targeted kills and the mass failure are ignored).
type Churn struct {
	Enabled     bool         `json:"enabled"`
	Targeted    Targeted     `json:"targeted"`
	MassFailure *MassFailure `json:"mass_failure"`
}

// Targeted supernode kills: at fixed offsets (At, within [warmup, duration)) and/or as a Poisson process
// with Rate kills per second after the warmup. Which supernode dies is
// resolved at run time by the launcher. A killed supernode is restarted
// RestartAfter later ("none": never).
type Targeted struct {
	At           []Duration `json:"at"`
	Rate         float64    `json:"rate"`
	RestartAfter Duration   `json:"restart_after"`
}

// MassFailure kills Fraction (0 < f <= 1, rounded up to whole nodes) of the
// nodes that are up at offset At (within [warmup, duration)); they restart RestartAfter later ("none":
// never).
type MassFailure struct {
	At           Duration `json:"at"`
	Fraction     float64  `json:"fraction"`
	RestartAfter Duration `json:"restart_after"`
}

// Election thresholds passed verbatim to the node processes. They are
// strings because they are handed to the binary as flag values; Validate
// checks their syntax: MinUptime is a Go duration, MinUpload a non-negative
// integer (bytes/s), MaxLeaves a positive integer.
type Election struct {
	MinUptime string `json:"min_uptime"`
	MinUpload string `json:"min_upload"`
	MaxLeaves string `json:"max_leaves"`
}

// NodeSpec is the resolved description of node i.
type NodeSpec struct {
	Index     int
	Profile   string
	UploadBps int64
	MTTF      Duration
	MTTR      Duration
	Role      string // "leaf", "supernode" or "auto"
}

// Parse decodes and validates a scenario. Unknown fields and trailing data
// are rejected.
func Parse(data []byte) (*Scenario, error) {
	if len(data) > MaxScenarioBytes {
		return nil, fmt.Errorf("scenario: %d bytes exceeds the limit of %d: %w", len(data), MaxScenarioBytes, ErrInvalidScenario)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var s Scenario
	if err := dec.Decode(&s); err != nil {
		return nil, decodeError(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("scenario: trailing data after the JSON object: %w", ErrInvalidScenario)
	}
	if err := s.Validate(); err != nil {
		return nil, err
	}
	return &s, nil
}

var unknownFieldRE = regexp.MustCompile(`unknown field "([^"]*)"`)

func decodeError(err error) error {
	var te *json.UnmarshalTypeError
	var se *json.SyntaxError
	switch {
	case errors.As(err, &te):
		field := te.Field
		if field == "" {
			field = "(top level)"
		}
		return fieldErr(field, "cannot use JSON %s as %v", te.Value, te.Type)
	case errors.As(err, &se):
		return fmt.Errorf("scenario: malformed JSON at offset %d: %v: %w", se.Offset, se, ErrInvalidScenario)
	case errors.Is(err, io.EOF):
		return fmt.Errorf("scenario: empty input: %w", ErrInvalidScenario)
	}
	if m := unknownFieldRE.FindStringSubmatch(err.Error()); m != nil {
		return fieldErr(m[1], "unknown field")
	}
	return fmt.Errorf("scenario: %v: %w", err, ErrInvalidScenario)
}

// Load reads and parses a scenario file.
func Load(path string) (*Scenario, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("scenario: %w", err)
	}
	s, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return s, nil
}

// BuiltinNames lists the embedded scenarios ("default", "smoke").
func BuiltinNames() []string {
	ents, _ := fs.ReadDir(scenarios.FS, ".")
	var names []string
	for _, e := range ents {
		if n, ok := strings.CutSuffix(e.Name(), ".json"); ok {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	return names
}

// Builtin returns the embedded scenario with the given name.
func Builtin(name string) (*Scenario, error) {
	data, err := scenarios.FS.ReadFile(name + ".json")
	if err != nil || strings.ContainsAny(name, "/\\") {
		return nil, fmt.Errorf("scenario: no built-in scenario %q (have %v)", name, BuiltinNames())
	}
	s, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("built-in %s: %w", name, err)
	}
	return s, nil
}

// Open returns the built-in scenario nameOrPath if one has that name,
// otherwise loads the file at that path.
func Open(nameOrPath string) (*Scenario, error) {
	for _, n := range BuiltinNames() {
		if n == nameOrPath {
			return Builtin(n)
		}
	}
	return Load(nameOrPath)
}

// EffectiveMaxEvents returns MaxEvents or DefaultMaxEvents when it is 0.
func (s *Scenario) EffectiveMaxEvents() int {
	if s.MaxEvents == 0 {
		return DefaultMaxEvents
	}
	return s.MaxEvents
}

// NodeSpecs returns one NodeSpec per node, in index order (profiles in
// order, each contributing Count consecutive indices).
func (s *Scenario) NodeSpecs() []NodeSpec {
	var out []NodeSpec
	for _, p := range s.Profiles {
		for range p.Count {
			out = append(out, NodeSpec{
				Index: len(out), Profile: p.Name, UploadBps: p.UploadBps,
				MTTF: p.MTTF, MTTR: p.MTTR, Role: p.Role,
			})
		}
	}
	return out
}

// Canonical returns the scenario re-encoded as compact JSON (stable for a
// given value).
func (s *Scenario) Canonical() []byte {
	b, err := json.Marshal(s)
	if err != nil { // cannot happen for a validated scenario
		panic(err)
	}
	return b
}

// Hash returns the hex SHA-256 of Canonical.
func (s *Scenario) Hash() string {
	h := sha256.Sum256(s.Canonical())
	return hex.EncodeToString(h[:])
}

// Validate checks every field; the error is a *FieldError naming the first
// offending field.
func (s *Scenario) Validate() error {
	if s == nil {
		return fmt.Errorf("scenario: nil: %w", ErrInvalidScenario)
	}
	if strings.TrimSpace(s.Name) == "" {
		return fieldErr("name", "must not be empty")
	}
	if err := s.Duration.check("duration", false, time.Millisecond, MaxDuration); err != nil {
		return err
	}
	if err := s.Warmup.check("warmup", false, 0, MaxDuration); err != nil {
		return err
	}
	if s.Warmup.Duration >= s.Duration.Duration {
		return fieldErr("warmup", "%v must be shorter than the duration %v", s.Warmup.Duration, s.Duration.Duration)
	}
	if s.NodeCount < 1 || s.NodeCount > MaxNodes {
		return fieldErr("nodes", "%d is out of range [1, %d]", s.NodeCount, MaxNodes)
	}
	if len(s.Profiles) == 0 {
		return fieldErr("profiles", "at least one profile is required")
	}
	total := 0
	names := map[string]bool{}
	for i, p := range s.Profiles {
		f := func(name string) string { return fmt.Sprintf("profiles[%d].%s", i, name) }
		if strings.TrimSpace(p.Name) == "" {
			return fieldErr(f("name"), "must not be empty")
		}
		if names[p.Name] {
			return fieldErr(f("name"), "duplicate profile name %q", p.Name)
		}
		names[p.Name] = true
		if p.Count < 1 || p.Count > MaxNodes {
			return fieldErr(f("count"), "%d is out of range [1, %d]", p.Count, MaxNodes)
		}
		total += p.Count
		if p.UploadBps <= 0 {
			return fieldErr(f("upload_bps"), "%d must be > 0 (bytes per second)", p.UploadBps)
		}
		if err := p.MTTF.check(f("mttf"), true, time.Millisecond, 1000*MaxDuration); err != nil {
			return err
		}
		if err := p.MTTR.check(f("mttr"), true, time.Millisecond, 1000*MaxDuration); err != nil {
			return err
		}
		switch p.Role {
		case RoleLeaf, RoleSupernode, RoleAuto:
		default:
			return fieldErr(f("role"), "%q is not one of \"leaf\", \"supernode\", \"auto\"", p.Role)
		}
	}
	if total != s.NodeCount {
		return fieldErr("nodes", "%d does not equal the sum of the profile counts (%d)", s.NodeCount, total)
	}
	if s.Objects < 1 || s.Objects > MaxObjects {
		return fieldErr("objects", "%d is out of range [1, %d]", s.Objects, MaxObjects)
	}
	if !finite(s.Zipf.S) || s.Zipf.S < 0 || s.Zipf.S > 10 {
		return fieldErr("zipf.s", "%v is out of range [0, 10]", s.Zipf.S)
	}
	if !finite(s.Zipf.V) || s.Zipf.V < 1 || s.Zipf.V > 1e9 {
		return fieldErr("zipf.v", "%v is out of range [1, 1e9]", s.Zipf.V)
	}
	if s.InitialHolders < 0 || s.InitialHolders > s.NodeCount {
		return fieldErr("initial_holders", "%d is out of range [0, nodes=%d]", s.InitialHolders, s.NodeCount)
	}
	if s.InitialHolders > 0 && s.Warmup.Duration == 0 {
		return fieldErr("initial_holders", "needs a warmup > 0 to spread the initial announces over")
	}
	if err := checkRate("announce_rate", s.AnnounceRate); err != nil {
		return err
	}
	if err := checkRate("lookup_rate", s.LookupRate); err != nil {
		return err
	}
	if err := s.LookupTimeout.check("lookup_timeout", false, time.Millisecond, time.Hour); err != nil {
		return err
	}
	if err := s.validateChurn(); err != nil {
		return err
	}
	if err := s.validateElection(); err != nil {
		return err
	}
	if s.MaxEvents < 0 || s.MaxEvents > HardMaxEvents {
		return fieldErr("max_events", "%d is out of range [0, %d] (0 means %d)", s.MaxEvents, HardMaxEvents, DefaultMaxEvents)
	}
	return nil
}

func (s *Scenario) validateChurn() error {
	t := s.Churn.Targeted
	if len(t.At) > MaxTargetedKillsAt {
		return fieldErr("churn.targeted.at", "%d entries exceed the limit of %d", len(t.At), MaxTargetedKillsAt)
	}
	for i, at := range t.At {
		f := fmt.Sprintf("churn.targeted.at[%d]", i)
		if err := at.check(f, false, 0, MaxDuration); err != nil {
			return err
		}
		if at.Duration < s.Warmup.Duration || at.Duration >= s.Duration.Duration {
			return fieldErr(f, "%v is outside [warmup, duration) = [%v, %v)", at.Duration, s.Warmup.Duration, s.Duration.Duration)
		}
	}
	if err := checkRate("churn.targeted.rate", t.Rate); err != nil {
		return err
	}
	if t.Rate > 0 || len(t.At) > 0 {
		if err := t.RestartAfter.check("churn.targeted.restart_after", true, time.Millisecond, MaxDuration); err != nil {
			return err
		}
	} else if t.RestartAfter.bad != "" {
		return t.RestartAfter.check("churn.targeted.restart_after", true, time.Millisecond, MaxDuration)
	}
	if m := s.Churn.MassFailure; m != nil {
		if err := m.At.check("churn.mass_failure.at", false, 0, MaxDuration); err != nil {
			return err
		}
		if m.At.Duration < s.Warmup.Duration || m.At.Duration >= s.Duration.Duration {
			return fieldErr("churn.mass_failure.at", "%v is outside [warmup, duration) = [%v, %v)", m.At.Duration, s.Warmup.Duration, s.Duration.Duration)
		}
		if !finite(m.Fraction) || m.Fraction <= 0 || m.Fraction > 1 {
			return fieldErr("churn.mass_failure.fraction", "%v is out of range (0, 1]", m.Fraction)
		}
		if err := m.RestartAfter.check("churn.mass_failure.restart_after", true, time.Millisecond, MaxDuration); err != nil {
			return err
		}
	}
	return nil
}

func (s *Scenario) validateElection() error {
	e := s.Election
	if d, err := time.ParseDuration(e.MinUptime); err != nil || d < 0 {
		return fieldErr("election.min_uptime", "%q is not a non-negative Go duration", e.MinUptime)
	}
	if v, err := strconv.ParseInt(e.MinUpload, 10, 64); err != nil || v < 0 {
		return fieldErr("election.min_upload", "%q is not a non-negative integer (bytes per second)", e.MinUpload)
	}
	if v, err := strconv.ParseInt(e.MaxLeaves, 10, 64); err != nil || v < 1 {
		return fieldErr("election.max_leaves", "%q is not a positive integer", e.MaxLeaves)
	}
	return nil
}

func checkRate(field string, r float64) error {
	if !finite(r) || r < 0 || r > MaxRate {
		return fieldErr(field, "%v is out of range [0, %d] (events per second)", r, MaxRate)
	}
	return nil
}

func finite(f float64) bool { return !math.IsNaN(f) && !math.IsInf(f, 0) }
