package leaf

import "github.com/prometheus/client_golang/prometheus"

// Metric descriptions of a leaf agent's state (all prefixed supertracker_).
var (
	descSupernodes = prometheus.NewDesc("supertracker_attached_supernodes", "Supernodes this leaf is attached to (primary and backups).", nil, nil)
	descObjects    = prometheus.NewDesc("supertracker_objects", "Objects this node announces and refreshes.", nil, nil)
	descFailovers  = prometheus.NewDesc("supertracker_leaf_failovers_total", "Times this leaf lost its primary supernode.", nil, nil)
)

// Collector exports an agent's state to Prometheus at scrape time: its
// attached supernodes, its objects and its failovers.
type Collector struct{ Agent *Agent }

var _ prometheus.Collector = Collector{}

// Describe sends the descriptions of every metric Collect sends.
func (Collector) Describe(ch chan<- *prometheus.Desc) {
	ch <- descSupernodes
	ch <- descObjects
	ch <- descFailovers
}

// Collect sends the agent's gauges and its failover counter.
func (c Collector) Collect(ch chan<- prometheus.Metric) {
	ch <- prometheus.MustNewConstMetric(descSupernodes, prometheus.GaugeValue, float64(len(c.Agent.Supernodes())))
	ch <- prometheus.MustNewConstMetric(descObjects, prometheus.GaugeValue, float64(len(c.Agent.Objects())))
	ch <- prometheus.MustNewConstMetric(descFailovers, prometheus.CounterValue, float64(c.Agent.Failovers()))
}
