package node

// Observability on --api: Prometheus /metrics (a registry of our own, not
// the global one), /healthz, and the counters behind both and behind the
// status page (statuspage.go).

import (
	"context"
	"encoding/json"
	"errors"
	"maps"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/supertracker/supertracker/leaf"
	"github.com/supertracker/supertracker/protocol/httpapi"
)

// Metric names (all prefixed supertracker_).
const metricNS = "supertracker"

// Outcomes of an API operation.
const (
	outcomeOK          = "ok"
	outcomeNotFound    = "not_found"
	outcomeError       = "error"
	outcomeUnsupported = "unsupported"
)

// opsView is what /metrics, /healthz and the status page read: the API
// backend (its Status has nearly everything) plus the role objects behind
// it, read at request time so a node's role changes show at once.
type opsView struct {
	backend   httpapi.Backend
	supernode func() supernodeView // nil while not a supernode
	agent     func() *leaf.Agent   // nil for a supernode process
	started   time.Time
	stopping  atomic.Bool // shutting down: /healthz answers 503
	recent    *lookupRing
	metrics   *apiMetrics
	bt        *btMetrics
	bridge    atomic.Pointer[bridgeView] // the BitTorrent bridge, once started
	registry  *prometheus.Registry
}

// supernodeView is what the status page, /metrics and FindPeer read from
// a node's supernode service (serving.go).
type supernodeView interface {
	fillPage(d *statusPageData)
	collect(ch chan<- prometheus.Metric)
	findPeer(ctx context.Context, id peer.ID) (peer.AddrInfo, error)
}

func newOpsView(b httpapi.Backend, sn func() supernodeView, agent func() *leaf.Agent) *opsView {
	if sn == nil {
		sn = func() supernodeView { return nil }
	}
	if agent == nil {
		agent = func() *leaf.Agent { return nil }
	}
	v := &opsView{backend: b, supernode: sn, agent: agent, started: time.Now(), recent: newLookupRing(recentLookups)}
	v.registry = prometheus.NewRegistry()
	v.metrics = newAPIMetrics(v.registry)
	v.bt = newBTMetrics(v.registry)
	v.registry.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		&stateCollector{v: v},
	)
	return v
}

// handler serves the API (through the instrumented backend, delegated
// routing included) plus /metrics, /healthz and the status page at /,
// behind the guard.
func (v *opsView) handler(guard httpapi.GuardConfig) http.Handler {
	mux := httpapi.NewHandler(&instrumented{Backend: v.backend, v: v}, httpapi.WithRegisterer(v.registry))
	mux.Handle("GET /metrics", promhttp.HandlerFor(v.registry, promhttp.HandlerOpts{
		ErrorHandling: promhttp.ContinueOnError, Timeout: 10 * time.Second}))
	mux.HandleFunc("GET /healthz", v.serveHealth)
	mux.HandleFunc("GET /{$}", v.serveStatusPage)
	return httpapi.Guard(mux, guard)
}

// serveHealth answers 200 while the node serves its role: a supernode
// until it starts shutting down, a leaf while attached to a supernode (or
// while it is one); 503 otherwise.
func (v *opsView) serveHealth(w http.ResponseWriter, r *http.Request) {
	ok, role, reason := v.health(r.Context())
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	body := map[string]any{"status": "ok", "role": role}
	if !ok {
		w.WriteHeader(http.StatusServiceUnavailable)
		body["status"], body["reason"] = "unavailable", reason
	}
	_ = json.NewEncoder(w).Encode(body)
}

func (v *opsView) health(ctx context.Context) (ok bool, role, reason string) {
	if v.stopping.Load() {
		return false, "", "shutting down"
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	st, err := v.backend.Status(ctx)
	if err != nil {
		return false, "", "status: " + err.Error()
	}
	if st.Role == httpapi.RoleSupernode {
		return true, st.Role, ""
	}
	if a := v.agent(); a != nil && (a.Primary() != "" || a.Local()) {
		return true, st.Role, ""
	}
	return false, st.Role, "no supernode attached"
}

// apiMetrics are the counters and histograms of operations served through
// the API.
type apiMetrics struct {
	lookups        *prometheus.CounterVec
	lookupSeconds  prometheus.Histogram
	lookupHolders  prometheus.Histogram
	announces      *prometheus.CounterVec
	announceCIDs   prometheus.Counter
	announceSecond prometheus.Histogram
	withdraws      *prometheus.CounterVec
}

func newAPIMetrics(reg prometheus.Registerer) *apiMetrics {
	latency := []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}
	m := &apiMetrics{
		lookups: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: metricNS, Name: "lookups_total",
			Help: "Lookups served through the local API, by outcome (ok, not_found, error)."}, []string{"outcome"}),
		lookupSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: metricNS, Name: "lookup_duration_seconds",
			Help: "Latency of lookups served through the local API.", Buckets: latency}),
		lookupHolders: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: metricNS, Name: "lookup_holders",
			Help: "Holders found per successful lookup.", Buckets: []float64{0, 1, 2, 5, 10, 20, 50}}),
		announces: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: metricNS, Name: "announces_total",
			Help: "Announcements made through the local API, by outcome (ok, error, unsupported)."}, []string{"outcome"}),
		announceCIDs: prometheus.NewCounter(prometheus.CounterOpts{Namespace: metricNS, Name: "announced_cids_total",
			Help: "CIDs the overlay accepted from announcements made through the local API."}),
		announceSecond: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: metricNS, Name: "announce_duration_seconds",
			Help: "Latency of announcements through the local API, until the overlay stored them.", Buckets: latency}),
		withdraws: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: metricNS, Name: "withdraws_total",
			Help: "Withdrawals made through the local API, by outcome (ok, error, unsupported)."}, []string{"outcome"}),
	}
	for _, o := range []string{outcomeOK, outcomeNotFound, outcomeError} {
		m.lookups.WithLabelValues(o)
	}
	for _, o := range []string{outcomeOK, outcomeError, outcomeUnsupported} {
		m.announces.WithLabelValues(o)
		m.withdraws.WithLabelValues(o)
	}
	reg.MustRegister(m.lookups, m.lookupSeconds, m.lookupHolders, m.announces, m.announceCIDs, m.announceSecond, m.withdraws)
	return m
}

func outcomeOf(err error) string {
	switch {
	case err == nil:
		return outcomeOK
	case errors.Is(err, httpapi.ErrNotSupported):
		return outcomeUnsupported
	}
	return outcomeError
}

// instrumented counts and times what the API serves, and keeps the recent
// lookups for the status page.
type instrumented struct {
	httpapi.Backend
	v *opsView
}

func (b *instrumented) Lookup(ctx context.Context, c cid.Cid, limit int) ([]peer.AddrInfo, error) {
	start := time.Now()
	holders, err := b.Backend.Lookup(ctx, c, limit)
	d := time.Since(start)
	outcome := outcomeOf(err)
	if err == nil && len(holders) == 0 {
		outcome = outcomeNotFound
	}
	m := b.v.metrics
	m.lookups.WithLabelValues(outcome).Inc()
	m.lookupSeconds.Observe(d.Seconds())
	if err == nil {
		m.lookupHolders.Observe(float64(len(holders)))
	}
	rec := lookupRecord{At: start, CID: c.String(), InfoHash: infoHashOf(c), Source: "API", Holders: len(holders), Latency: d, Outcome: outcome}
	if err != nil {
		rec.Error = err.Error()
	}
	b.v.recent.add(rec)
	return holders, err
}

func (b *instrumented) Announce(ctx context.Context, cids []cid.Cid) (*httpapi.AnnounceResponse, error) {
	start := time.Now()
	res, err := b.Backend.Announce(ctx, cids)
	m := b.v.metrics
	m.announces.WithLabelValues(outcomeOf(err)).Inc()
	m.announceSecond.Observe(time.Since(start).Seconds())
	if err == nil && res != nil {
		m.announceCIDs.Add(float64(res.Accepted))
	}
	return res, err
}

func (b *instrumented) Withdraw(ctx context.Context, cids []cid.Cid) (*httpapi.AnnounceResponse, error) {
	res, err := b.Backend.Withdraw(ctx, cids)
	b.v.metrics.withdraws.WithLabelValues(outcomeOf(err)).Inc()
	return res, err
}

// recentLookups: how many lookups the status page lists.
const recentLookups = 20

// lookupRecord is one lookup served through the API.
type lookupRecord struct {
	At       time.Time
	Source   string // "API" (local API, delegated routing included) or "BitTorrent" (the bridge)
	CID      string
	InfoHash string // the torrent's infohash when CID names one (codec torrent-info)
	Holders  int
	Latency  time.Duration
	Outcome  string
	Error    string
}

// lookupRing keeps the last n lookups.
type lookupRing struct {
	mu   sync.Mutex
	buf  []lookupRecord
	next int
	full bool
}

func newLookupRing(n int) *lookupRing { return &lookupRing{buf: make([]lookupRecord, n)} }

func (r *lookupRing) add(rec lookupRecord) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.buf[r.next] = rec
	r.next = (r.next + 1) % len(r.buf)
	if r.next == 0 {
		r.full = true
	}
}

// list returns the kept lookups, newest first.
func (r *lookupRing) list() []lookupRecord {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := r.next
	if r.full {
		n = len(r.buf)
	}
	out := make([]lookupRecord, 0, n)
	for i := 1; i <= n; i++ {
		out = append(out, r.buf[(r.next-i+len(r.buf))%len(r.buf)])
	}
	return out
}

// stateCollector reads the node's state at scrape time.
type stateCollector struct{ v *opsView }

var (
	descInfo = prometheus.NewDesc(metricNS+"_info", "Constant 1, labelled with the node's peer ID and the build's version and VCS commit.",
		[]string{"peer_id", "version", "commit"}, nil)
	descRole = prometheus.NewDesc(metricNS+"_role", "1 for the role the node runs as now (leaf or supernode), 0 for the other.",
		[]string{"role"}, nil)
	descUp     = prometheus.NewDesc(metricNS+"_up", "1 while the node serves its role (what /healthz answers 200 for).", nil, nil)
	descUptime = prometheus.NewDesc(metricNS+"_uptime_seconds", "Seconds since the process started.", nil, nil)
	// Our own request kinds (leaf/lookup, replicate, kad, …): messages and
	// their payload bytes, counted by the node. libp2p's byte counts by
	// protocol ID (wire bytes, all streams) are a separate metric: the two
	// overlap, so they must not share one.
	descMsgs = prometheus.NewDesc(metricNS+"_traffic_messages_total", "Messages by request kind (leaf/lookup, replicate, kad, …) and direction.",
		[]string{"kind", "direction"}, nil)
	descMsgBytes = prometheus.NewDesc(metricNS+"_traffic_message_bytes_total", "Payload bytes of the messages by request kind and direction.",
		[]string{"kind", "direction"}, nil)
	descProtoBytes = prometheus.NewDesc(metricNS+"_libp2p_protocol_bytes_total", "Bytes on libp2p streams by protocol ID and direction (libp2p's bandwidth counter).",
		[]string{"protocol", "direction"}, nil)
	descScore       = prometheus.NewDesc(metricNS+"_election_score", "The election's score in [0,1] for this node.", nil, nil)
	descEligible    = prometheus.NewDesc(metricNS+"_election_eligible", "1 if the node meets every supernode criterion.", nil, nil)
	descRoleChanges = prometheus.NewDesc(metricNS+"_election_role_changes_total", "Role changes carried out.", nil, nil)
	descCritOK      = prometheus.NewDesc(metricNS+"_election_criterion_ok", "1 if the election criterion is met (unknown: 0).", []string{"criterion"}, nil)
	descCritKnown   = prometheus.NewDesc(metricNS+"_election_criterion_known", "1 once the election criterion has been measured.", []string{"criterion"}, nil)
	descDemandRho   = prometheus.NewDesc(metricNS+"_election_demand_rho", "Supernode load ρ the election last saw.", nil, nil)
)

// criterionUnits: one pair of metrics (measured value, threshold) per unit
// the election reports in, so no metric mixes units. "bool" criteria have
// no value metric: _criterion_ok is their value.
var criterionUnits = map[string]struct{ value, threshold *prometheus.Desc }{
	"s":        criterionDescs("seconds", "seconds"),
	"B/s":      criterionDescs("bytes_per_second", "bytes per second"),
	"fraction": criterionDescs("ratio", "a fraction in [0,1]"),
}

func criterionDescs(suffix, unit string) struct{ value, threshold *prometheus.Desc } {
	return struct{ value, threshold *prometheus.Desc }{
		prometheus.NewDesc(metricNS+"_election_criterion_"+suffix, "Measured value of the election criteria measured in "+unit+".",
			[]string{"criterion"}, nil),
		prometheus.NewDesc(metricNS+"_election_criterion_threshold_"+suffix, "Threshold of the election criteria measured in "+unit+".",
			[]string{"criterion"}, nil),
	}
}

func (c *stateCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descInfo, descRole, descUp, descUptime, descMsgs, descMsgBytes, descProtoBytes,
		descScore, descEligible, descRoleChanges, descCritOK, descCritKnown, descDemandRho} {
		ch <- d
	}
	describeServing(ch)
	leaf.Collector{}.Describe(ch)
	for _, u := range criterionUnits {
		ch <- u.value
		ch <- u.threshold
	}
	ch <- descBTTorrents
	ch <- descBTClients
	ch <- descBTList
}

func (c *stateCollector) Collect(ch chan<- prometheus.Metric) {
	v := c.v
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	gauge := func(d *prometheus.Desc, x float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, x, labels...)
	}
	counter := func(d *prometheus.Desc, x float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, x, labels...)
	}
	b2f := func(b bool) float64 {
		if b {
			return 1
		}
		return 0
	}
	gauge(descUptime, time.Since(v.started).Seconds())
	v.collectBT(ch)
	up, _, _ := v.health(ctx)
	gauge(descUp, b2f(up))
	st, err := v.backend.Status(ctx)
	if err != nil {
		return
	}
	version, commit := buildVersion()
	gauge(descInfo, 1, st.PeerID, version, commit)
	gauge(descRole, b2f(st.Role == httpapi.RoleLeaf), httpapi.RoleLeaf)
	gauge(descRole, b2f(st.Role == httpapi.RoleSupernode), httpapi.RoleSupernode)
	if sn := v.supernode(); sn != nil && st.Role == httpapi.RoleSupernode {
		sn.collect(ch)
	}
	if a := v.agent(); a != nil {
		leaf.Collector{Agent: a}.Collect(ch)
	}
	for _, k := range slices.Sorted(maps.Keys(st.Traffic)) {
		t := st.Traffic[k]
		if isProtocolID(k) {
			// libp2p's counter; kad's message count is also kept under
			// its own kind, "kad".
			counter(descProtoBytes, float64(t.BytesIn), k, "in")
			counter(descProtoBytes, float64(t.BytesOut), k, "out")
			continue
		}
		counter(descMsgs, float64(t.MsgsIn), k, "in")
		counter(descMsgs, float64(t.MsgsOut), k, "out")
		counter(descMsgBytes, float64(t.BytesIn), k, "in")
		counter(descMsgBytes, float64(t.BytesOut), k, "out")
	}
	if st.Election != nil {
		el := st.Election.Status
		gauge(descScore, el.Score)
		gauge(descEligible, b2f(el.Eligible))
		counter(descRoleChanges, float64(el.RoleChanges))
		gauge(descDemandRho, el.Demand.Rho)
		for _, cr := range el.Criteria {
			gauge(descCritOK, b2f(cr.Known && cr.OK), cr.Name)
			gauge(descCritKnown, b2f(cr.Known), cr.Name)
			u, ok := criterionUnits[cr.Unit]
			if !ok {
				continue // bool: _criterion_ok is the value
			}
			if cr.Known {
				gauge(u.value, cr.Value, cr.Name)
			}
			gauge(u.threshold, cr.Threshold, cr.Name)
		}
	}
}
