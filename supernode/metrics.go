package supernode

import "github.com/prometheus/client_golang/prometheus"

// Metric descriptions of a supernode's state (all prefixed supertracker_).
var (
	descLeaves      = prometheus.NewDesc("supertracker_leaves", "Leaves attached to this supernode.", nil, nil)
	descMaxLeaves   = prometheus.NewDesc("supertracker_max_leaves", "Most leaves this supernode accepts.", nil, nil)
	descRecords     = prometheus.NewDesc("supertracker_records", "Live object→peer records this supernode stores.", nil, nil)
	descRecordLeafs = prometheus.NewDesc("supertracker_record_leaves", "Leaves whose records this supernode stores.", nil, nil)
	descRT          = prometheus.NewDesc("supertracker_dht_routing_table_peers", "Supernodes in this supernode's DHT routing table.", nil, nil)
	descRho         = prometheus.NewDesc("supertracker_load_rho", "Utilisation ρ = λ/μ this supernode reports to leaves (a ratio).", nil, nil)
	descArrival     = prometheus.NewDesc("supertracker_load_requests_per_second", "Requests per second this supernode serves (λ, measured).", nil, nil)
	descService     = prometheus.NewDesc("supertracker_load_service_rate_requests_per_second",
		"Requests per second one worker of this supernode serves (μ, measured).", nil, nil)
)

// Collector exports a supernode's state (Stats) to Prometheus at scrape
// time. Current returns the supernode to read, nil while there is none (a
// node that is a leaf now): then it exports nothing.
type Collector struct{ Current func() *Node }

var _ prometheus.Collector = Collector{}

// Describe sends the descriptions of every metric Collect may send.
func (Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descLeaves, descMaxLeaves, descRecords, descRecordLeafs, descRT, descRho, descArrival, descService} {
		ch <- d
	}
}

// Collect sends the supernode's gauges.
func (c Collector) Collect(ch chan<- prometheus.Metric) {
	n := c.Current()
	if n == nil {
		return
	}
	s := n.Stats()
	for _, m := range []struct {
		d *prometheus.Desc
		v float64
	}{{descLeaves, float64(s.Leaves)}, {descMaxLeaves, float64(s.MaxLeaves)}, {descRecords, float64(s.Records)},
		{descRecordLeafs, float64(s.RecordLeaves)}, {descRT, float64(s.RoutingTable)}, {descRho, s.Rho},
		{descArrival, s.Arrival}, {descService, s.Service}} {
		ch <- prometheus.MustNewConstMetric(m.d, prometheus.GaugeValue, m.v)
	}
}
