package events

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"time"
)

// Version of the log format.
const Version = 1

// ErrInvalidEvent is wrapped by every validation error (reader and writer).
var ErrInvalidEvent = errors.New("invalid event")

// Kind names an event type (the "kind" field).
type Kind string

// Event kinds.
const (
	KindRun             Kind = "run"
	KindScheduleStart   Kind = "schedule_start"
	KindRunEnd          Kind = "run_end"
	KindOpIssued        Kind = "op"
	KindLookup          Kind = "lookup"
	KindAnnounce        Kind = "announce"
	KindNodeStart       Kind = "node_start"
	KindNodeKill        Kind = "node_kill"
	KindNodeRestart     Kind = "node_restart"
	KindNodeExit        Kind = "node_exit"
	KindRoleChange      Kind = "role_change"
	KindSupernodeSample Kind = "supernode_sample"
	KindResourceSample  Kind = "resource_sample"
	KindTrafficSample   Kind = "traffic_sample"
	KindLeafAttach      Kind = "leaf_attach"
)

// Node roles.
const (
	RoleLeaf      = "leaf"
	RoleSupernode = "supernode"
)

// Lookup / announce outcomes.
const (
	StatusOK      = "ok"      // the node answered (possibly with no holders)
	StatusTimeout = "timeout" // no answer within the lookup timeout
	StatusError   = "error"   // the request failed
)

// Kill causes (NodeKill.Cause).
const (
	CauseChurn       = "churn"
	CauseTargeted    = "targeted"
	CauseMassFailure = "mass_failure"
	CauseManual      = "manual"
	CauseShutdown    = "shutdown" // end of run; not counted as churn
)

// Traffic classes (TrafficSample.Class); classes of one node are disjoint.
const (
	ClassLookup   = "lookup"   // leaf↔supernode lookup requests and answers + the DHT queries they cause
	ClassAnnounce = "announce" // announce requests and their replication
	ClassDHT      = "dht"      // DHT maintenance
	ClassOther    = "other"    // everything else (or everything, without a breakdown)
)

// Skip reasons (OpIssued.Skipped).
const (
	SkipNodeDown    = "node_down"
	SkipNoSupernode = "no_supernode"
)

// Payload is the kind-specific part of an event. It is implemented only by
// the types of this package.
type Payload interface {
	Kind() Kind
	validate(h *Run) error
}

// Event is one log line: its time and payload (a value of one of the payload
// types, e.g. LookupResult, not a pointer).
type Event struct {
	T       time.Duration // since the writer's creation
	Payload Payload
}

// Kind returns the payload's kind.
func (e Event) Kind() Kind { return e.Payload.Kind() }

// Run is the header (line 1).
type Run struct {
	Scenario       string        `json:"scenario"`
	ScenarioSHA256 string        `json:"scenario_sha256,omitempty"`
	Seed           uint64        `json:"seed"`
	Nodes          int           `json:"nodes"`
	Objects        int           `json:"objects"`
	Duration       time.Duration `json:"duration_ns"`       // scheduled run length
	LookupTimeout  time.Duration `json:"lookup_timeout_ns"` // the success criterion's timeout
	StartUnixNano  int64         `json:"start_unix_ns"`     // wall clock at t_ns = 0
}

// ScheduleStart marks schedule time zero.
type ScheduleStart struct {
	Ops int `json:"ops"` // number of ops in the schedule
}

// RunEnd marks the end of the run (optional).
type RunEnd struct {
	Reason string `json:"reason,omitempty"`
}

// OpIssued records that a schedule op's time came.
type OpIssued struct {
	OpID    uint64        `json:"op_id"`
	Op      string        `json:"op"`     // workload op kind: announce, lookup, kill, ...
	At      time.Duration `json:"at_ns"`  // scheduled offset from schedule time zero
	Node    int           `json:"node"`   // node acted on (resolved for kill_supernode); -1 if none
	Object  int           `json:"object"` // -1 if none
	Skipped string        `json:"skipped,omitempty"`
}

// LookupResult is the outcome of one lookup.
type LookupResult struct {
	OpID         uint64        `json:"op_id"`
	Node         int           `json:"node"`
	Object       int           `json:"object"`
	Latency      time.Duration `json:"latency_ns"`
	Holders      int           `json:"holders"`       // holders returned
	HoldersAlive int           `json:"holders_alive"` // of those, alive at completion
	Status       string        `json:"status"`
	Error        string        `json:"error,omitempty"`
}

// AnnounceResult is the outcome of one announce.
type AnnounceResult struct {
	OpID    uint64        `json:"op_id"`
	Node    int           `json:"node"`
	Object  int           `json:"object"`
	Latency time.Duration `json:"latency_ns"`
	Status  string        `json:"status"`
	Error   string        `json:"error,omitempty"`
}

// NodeStart: a node process was started (first time).
type NodeStart struct {
	Node int    `json:"node"`
	Role string `json:"role"` // role it starts in
	PID  int    `json:"pid,omitempty"`
}

// NodeKill: the launcher killed a node.
type NodeKill struct {
	Node  int    `json:"node"`
	Cause string `json:"cause"`
}

// NodeRestart: a killed or exited node was started again.
type NodeRestart struct {
	Node  int    `json:"node"`
	Role  string `json:"role"`
	PID   int    `json:"pid,omitempty"`
	Cause string `json:"cause,omitempty"` // cause of the kill it recovers from
}

// NodeExit: a node process exited without being killed.
type NodeExit struct {
	Node  int    `json:"node"`
	Code  int    `json:"code"`
	Error string `json:"error,omitempty"`
}

// RoleChange: a node changed role.
type RoleChange struct {
	Node int    `json:"node"`
	From string `json:"from"`
	To   string `json:"to"`
}

// LeafAttach: a node running as a leaf gained (Attached) or lost its last
// supernode, as the launcher's status polls saw it (about once a second).
type LeafAttach struct {
	Node     int  `json:"node"`
	Attached bool `json:"attached"`
}

// SupernodeSample: load of one supernode.
type SupernodeSample struct {
	Node        int     `json:"node"`
	Leaves      int     `json:"leaves"`      // attached leaves
	ReqPerSec   float64 `json:"req_per_s"`   // request arrival rate λ
	Utilisation float64 `json:"utilisation"` // ρ = λ/μ
	Records     int64   `json:"records"`     // provider records stored
}

// ResourceSample: resource use of one node process.
type ResourceSample struct {
	Node       int     `json:"node"`
	Role       string  `json:"role"`
	CPUSeconds float64 `json:"cpu_s"`     // cumulative user+system CPU of this process
	RSSBytes   int64   `json:"rss_bytes"` // current resident set size
}

// TrafficSample: cumulative traffic of one node process in one class.
type TrafficSample struct {
	Node  int    `json:"node"`
	Class string `json:"class"`
	Msgs  int64  `json:"msgs"`
	Bytes int64  `json:"bytes"`
}

func (Run) Kind() Kind             { return KindRun }
func (ScheduleStart) Kind() Kind   { return KindScheduleStart }
func (RunEnd) Kind() Kind          { return KindRunEnd }
func (OpIssued) Kind() Kind        { return KindOpIssued }
func (LookupResult) Kind() Kind    { return KindLookup }
func (AnnounceResult) Kind() Kind  { return KindAnnounce }
func (NodeStart) Kind() Kind       { return KindNodeStart }
func (NodeKill) Kind() Kind        { return KindNodeKill }
func (NodeRestart) Kind() Kind     { return KindNodeRestart }
func (NodeExit) Kind() Kind        { return KindNodeExit }
func (RoleChange) Kind() Kind      { return KindRoleChange }
func (SupernodeSample) Kind() Kind { return KindSupernodeSample }
func (ResourceSample) Kind() Kind  { return KindResourceSample }
func (TrafficSample) Kind() Kind   { return KindTrafficSample }
func (LeafAttach) Kind() Kind      { return KindLeafAttach }

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalidEvent, fmt.Sprintf(format, args...))
}

func checkNode(h *Run, n int) error {
	if n < 0 || n >= h.Nodes {
		return invalid("node %d out of range [0, %d)", n, h.Nodes)
	}
	return nil
}

func checkRole(field, r string) error {
	if r != RoleLeaf && r != RoleSupernode {
		return invalid("%s %q is not %q or %q", field, r, RoleLeaf, RoleSupernode)
	}
	return nil
}

func checkStatus(s string) error {
	switch s {
	case StatusOK, StatusTimeout, StatusError:
		return nil
	}
	return invalid("status %q is not ok, timeout or error", s)
}

func checkFloat(field string, f float64) error {
	if math.IsNaN(f) || math.IsInf(f, 0) || f < 0 {
		return invalid("%s %v must be finite and >= 0", field, f)
	}
	return nil
}

func checkNonNeg(field string, v int64) error {
	if v < 0 {
		return invalid("%s %d must be >= 0", field, v)
	}
	return nil
}

func (r Run) validate(*Run) error {
	switch {
	case r.Nodes < 1:
		return invalid("run: nodes %d must be >= 1", r.Nodes)
	case r.Objects < 0:
		return invalid("run: objects %d must be >= 0", r.Objects)
	case r.Duration <= 0:
		return invalid("run: duration_ns %d must be > 0", r.Duration)
	case r.LookupTimeout <= 0:
		return invalid("run: lookup_timeout_ns %d must be > 0", r.LookupTimeout)
	}
	return nil
}

func (s ScheduleStart) validate(*Run) error { return checkNonNeg("ops", int64(s.Ops)) }
func (RunEnd) validate(*Run) error          { return nil }

func (o OpIssued) validate(h *Run) error {
	if o.Op == "" {
		return invalid("op: empty op kind")
	}
	if o.Node != -1 {
		if err := checkNode(h, o.Node); err != nil {
			return err
		}
	}
	if o.Object < -1 {
		return invalid("op: object %d", o.Object)
	}
	return nil
}

func (l LookupResult) validate(h *Run) error {
	if err := checkNode(h, l.Node); err != nil {
		return err
	}
	if err := checkStatus(l.Status); err != nil {
		return err
	}
	switch {
	case l.Object < 0:
		return invalid("lookup: object %d must be >= 0", l.Object)
	case l.Latency < 0:
		return invalid("lookup: latency_ns %d must be >= 0", l.Latency)
	case l.Holders < 0 || l.HoldersAlive < 0 || l.HoldersAlive > l.Holders:
		return invalid("lookup: need 0 <= holders_alive (%d) <= holders (%d)", l.HoldersAlive, l.Holders)
	case l.Status != StatusOK && l.Holders != 0:
		return invalid("lookup: status %s with %d holders", l.Status, l.Holders)
	}
	return nil
}

func (a AnnounceResult) validate(h *Run) error {
	if err := checkNode(h, a.Node); err != nil {
		return err
	}
	if err := checkStatus(a.Status); err != nil {
		return err
	}
	switch {
	case a.Object < 0:
		return invalid("announce: object %d must be >= 0", a.Object)
	case a.Latency < 0:
		return invalid("announce: latency_ns %d must be >= 0", a.Latency)
	}
	return nil
}

func (n NodeStart) validate(h *Run) error {
	if err := checkNode(h, n.Node); err != nil {
		return err
	}
	return checkRole("role", n.Role)
}

func (n NodeKill) validate(h *Run) error {
	if n.Cause == "" {
		return invalid("node_kill: empty cause")
	}
	return checkNode(h, n.Node)
}

func (n NodeRestart) validate(h *Run) error {
	if err := checkNode(h, n.Node); err != nil {
		return err
	}
	return checkRole("role", n.Role)
}

func (n NodeExit) validate(h *Run) error { return checkNode(h, n.Node) }

func (r RoleChange) validate(h *Run) error {
	if err := checkNode(h, r.Node); err != nil {
		return err
	}
	if err := checkRole("from", r.From); err != nil {
		return err
	}
	if err := checkRole("to", r.To); err != nil {
		return err
	}
	if r.From == r.To {
		return invalid("role_change: from == to == %q", r.From)
	}
	return nil
}

func (a LeafAttach) validate(h *Run) error { return checkNode(h, a.Node) }

func (s SupernodeSample) validate(h *Run) error {
	if err := checkNode(h, s.Node); err != nil {
		return err
	}
	if err := checkNonNeg("leaves", int64(s.Leaves)); err != nil {
		return err
	}
	if err := checkFloat("req_per_s", s.ReqPerSec); err != nil {
		return err
	}
	if err := checkFloat("utilisation", s.Utilisation); err != nil {
		return err
	}
	return checkNonNeg("records", s.Records)
}

func (r ResourceSample) validate(h *Run) error {
	if err := checkNode(h, r.Node); err != nil {
		return err
	}
	if err := checkRole("role", r.Role); err != nil {
		return err
	}
	if err := checkFloat("cpu_s", r.CPUSeconds); err != nil {
		return err
	}
	return checkNonNeg("rss_bytes", r.RSSBytes)
}

func (t TrafficSample) validate(h *Run) error {
	if err := checkNode(h, t.Node); err != nil {
		return err
	}
	if t.Class == "" {
		return invalid("traffic_sample: empty class")
	}
	if err := checkNonNeg("msgs", t.Msgs); err != nil {
		return err
	}
	return checkNonNeg("bytes", t.Bytes)
}

// Validate checks a payload against the run header (node range etc.).
func Validate(h *Run, p Payload) error {
	if p == nil {
		return invalid("nil payload")
	}
	if _, isRun := p.(Run); !isRun && h == nil {
		return invalid("no run header")
	}
	return p.validate(h)
}

// envelope holds the fields common to every line.
type envelope struct {
	V    int   `json:"v"`
	T    int64 `json:"t_ns"`
	Kind Kind  `json:"kind"`
}

// marshalLine encodes one event as a JSON line (with the trailing newline).
func marshalLine(t time.Duration, p Payload) ([]byte, error) {
	body, err := json.Marshal(p)
	if err != nil {
		return nil, err
	}
	head, err := json.Marshal(envelope{V: Version, T: int64(t), Kind: p.Kind()})
	if err != nil {
		return nil, err
	}
	line := head[:len(head)-1] // drop '}'
	if len(body) > 2 {
		line = append(line, ',')
		line = append(line, body[1:]...)
	} else {
		line = append(line, '}')
	}
	return append(line, '\n'), nil
}
