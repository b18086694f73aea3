package node

// The BitTorrent bridge on /metrics and on the status page: requests by
// protocol and result, peers returned, swarm sizes, the torrents of this
// leaf, and its overlay lookups listed by infohash.

import (
	"time"

	"github.com/ipfs/go-cid"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/supertracker/supertracker/leaf/btbridge"
	"github.com/supertracker/supertracker/leaf/bttracker"
)

// btMetrics are the tracker's counters, registered whether or not the
// bridge runs so dashboards see zeros rather than nothing.
type btMetrics struct {
	announces *prometheus.CounterVec
	scrapes   *prometheus.CounterVec
	peers     prometheus.Histogram
	swarm     prometheus.Histogram
	lookups   *prometheus.CounterVec
}

func newBTMetrics(reg prometheus.Registerer) *btMetrics {
	labels := []string{"protocol", "result"}
	m := &btMetrics{
		announces: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: metricNS, Name: "bt_announces_total",
			Help: "BitTorrent announces answered by the tracker, by protocol (http, udp) and result (ok, invalid, denied, refused, unavailable, error, cross_site)."},
			labels),
		scrapes: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: metricNS, Name: "bt_scrapes_total",
			Help: "BitTorrent scrapes answered by the tracker, by protocol and result."}, labels),
		peers: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: metricNS, Name: "bt_announce_peers",
			Help: "Peers returned per successful announce.", Buckets: []float64{0, 1, 2, 5, 10, 20, 50, 100, 200}}),
		swarm: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: metricNS, Name: "bt_announce_swarm_peers",
			Help:    "Seeders plus leechers over every leaf, per successful announce (the swarm the client joined).",
			Buckets: []float64{1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 5000}}),
		lookups: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: metricNS, Name: "bt_overlay_lookups_total",
			Help: "Overlay lookups the BitTorrent bridge made for a torrent, by outcome (ok, not_found, error)."}, []string{"outcome"}),
	}
	for _, p := range []string{bttracker.ProtocolHTTP, bttracker.ProtocolUDP} {
		for _, r := range bttracker.Results {
			if r == bttracker.ResultCrossSite && p == bttracker.ProtocolUDP {
				continue // browsers cannot send UDP
			}
			m.announces.WithLabelValues(p, r)
			m.scrapes.WithLabelValues(p, r)
		}
	}
	for _, o := range []string{outcomeOK, outcomeNotFound, outcomeError} {
		m.lookups.WithLabelValues(o)
	}
	reg.MustRegister(m.announces, m.scrapes, m.peers, m.swarm, m.lookups)
	return m
}

func (m *btMetrics) observeRequest(i bttracker.RequestInfo) {
	switch i.Kind {
	case bttracker.KindAnnounce:
		m.announces.WithLabelValues(i.Protocol, i.Result).Inc()
		if i.Result == bttracker.ResultOK && i.Event != bttracker.EventStopped {
			m.peers.Observe(float64(i.Peers))
			m.swarm.Observe(float64(i.Seeders + i.Leechers))
		}
	case bttracker.KindScrape:
		m.scrapes.WithLabelValues(i.Protocol, i.Result).Inc()
	}
}

// bridgeView is the running bridge and where it listens.
type bridgeView struct {
	br   *btbridge.Bridge
	urls []string
}

func (v *opsView) setBridge(br *btbridge.Bridge, urls []string) {
	v.bridge.Store(&bridgeView{br: br, urls: urls})
}

// observeBTLookup counts a bridge lookup and lists it among the recent
// lookups, by infohash.
func (v *opsView) observeBTLookup(l btbridge.LookupInfo) {
	outcome := outcomeOf(l.Err)
	if l.Err == nil && l.Holders == 0 {
		outcome = outcomeNotFound
	}
	v.bt.lookups.WithLabelValues(outcome).Inc()
	rec := lookupRecord{At: time.Now().Add(-l.Duration), CID: bttracker.InfoHashToCID(l.InfoHash).String(), InfoHash: l.InfoHash.String(),
		Source: "BitTorrent", Holders: l.Holders, Latency: l.Duration, Outcome: outcome}
	if l.Err != nil {
		rec.Error = l.Err.Error()
	}
	v.recent.add(rec)
}

// infoHashOf is the infohash a torrent-info CID names, or "".
func infoHashOf(c cid.Cid) string {
	if ih, err := bttracker.CIDToInfoHash(c); err == nil {
		return ih.String()
	}
	return ""
}

var (
	descBTTorrents = prometheus.NewDesc(metricNS+"_bt_torrents", "Torrents the BitTorrent bridge tracks (clients, or an overlay record), by whether this leaf announces them into the overlay.",
		[]string{"announced"}, nil)
	descBTClients = prometheus.NewDesc(metricNS+"_bt_clients", "Live BitTorrent clients registered with this leaf's tracker, by state (seeder, leecher).",
		[]string{"state"}, nil)
	descBTList = prometheus.NewDesc(metricNS+"_bt_access_list_infohashes", "Infohashes on the tracker's allow and deny lists (allow: absent when every torrent is allowed).",
		[]string{"list"}, nil)
)

// collectBT reports the bridge's state at scrape time.
func (v *opsView) collectBT(ch chan<- prometheus.Metric) {
	bv := v.bridge.Load()
	if bv == nil {
		return
	}
	var announced, other, seeders, leechers float64
	for _, t := range bv.br.Torrents(0) {
		if t.Announced {
			announced++
		} else {
			other++
		}
		seeders += float64(t.Seeders)
		leechers += float64(t.Leechers)
	}
	ch <- prometheus.MustNewConstMetric(descBTTorrents, prometheus.GaugeValue, announced, "true")
	ch <- prometheus.MustNewConstMetric(descBTTorrents, prometheus.GaugeValue, other, "false")
	ch <- prometheus.MustNewConstMetric(descBTClients, prometheus.GaugeValue, seeders, "seeder")
	ch <- prometheus.MustNewConstMetric(descBTClients, prometheus.GaugeValue, leechers, "leecher")
	allow, deny := bv.br.Frontend().AccessList().Len()
	if allow >= 0 {
		ch <- prometheus.MustNewConstMetric(descBTList, prometheus.GaugeValue, float64(allow), "allow")
	}
	ch <- prometheus.MustNewConstMetric(descBTList, prometheus.GaugeValue, float64(deny), "deny")
}
