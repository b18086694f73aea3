package main

import (
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Acceptance 2: /metrics parses as Prometheus text and its counters move
// with traffic: a real supernode and leaf, announce + lookups through the
// leaf's API, scraped before and after.
func TestMetricsMoveWithTraffic(t *testing.T) {
	bin := binary(t)
	dir := t.TempDir()
	sn := newOpsProc(t, dir, "sn", "supernode", opsIP(11), "0", "--local")
	sn.start(t, bin)
	lf := newOpsProc(t, dir, "leaf", "leaf", opsIP(12), "0", "--supernode", sn.addr())
	lf.start(t, bin)
	for _, p := range []*opsProc{sn, lf} {
		poll(t, 20*time.Second, p.name+" /healthz 200", func() (bool, string) {
			code, body := httpGet(t, "http://"+p.api+"/healthz")
			return code == http.StatusOK, body
		})
	}

	leaf0, sn0 := scrape(t, lf.api), scrape(t, sn.api)
	obj, missing := opsCID("metrics", 1), opsCID("metrics", 2)
	c := lf.client()
	if _, err := c.Announce(t.Context(), []string{obj}); err != nil {
		t.Fatal(err)
	}
	res, err := c.Lookup(t.Context(), obj, 0)
	if err != nil || len(res.Holders) != 1 {
		t.Fatalf("lookup: %v %+v", err, res)
	}
	if res, err := c.Lookup(t.Context(), missing, 0); err != nil || len(res.Holders) != 0 {
		t.Fatalf("lookup of an unannounced CID: %v %+v", err, res)
	}
	leaf1, sn1 := scrape(t, lf.api), scrape(t, sn.api)

	grew := func(name string, before, after float64, by float64) {
		t.Helper()
		if after-before < by {
			t.Errorf("%s: %v → %v, want +%v", name, before, after, by)
		} else {
			t.Logf("%s: %v → %v", name, before, after)
		}
	}
	// The leaf's API counters and histograms.
	for _, m := range []struct {
		name   string
		labels []string
		by     float64
	}{
		{"supertracker_announces_total", []string{"outcome", "ok"}, 1},
		{"supertracker_announced_cids_total", nil, 1},
		{"supertracker_lookups_total", []string{"outcome", "ok"}, 1},
		{"supertracker_lookups_total", []string{"outcome", "not_found"}, 1},
		{"supertracker_lookup_duration_seconds", nil, 2},
		{"supertracker_announce_duration_seconds", nil, 1},
		{"supertracker_traffic_messages_total", []string{"kind", "leaf/lookup", "direction", "out"}, 2},
		{"supertracker_traffic_messages_total", []string{"kind", "leaf/announce", "direction", "out"}, 1},
		{"supertracker_traffic_message_bytes_total", []string{"kind", "leaf/lookup", "direction", "out"}, 2},
	} {
		before, _ := metricValue(leaf0, m.name, m.labels...)
		grew("leaf "+m.name+strings.Join(m.labels, "="), before, mustMetric(t, leaf1, m.name, m.labels...), m.by)
	}
	// The supernode counts what the leaf sent it.
	for _, m := range []struct {
		kind string
		by   float64
	}{{"leaf/lookup", 2}, {"leaf/announce", 1}} {
		before, _ := metricValue(sn0, "supertracker_traffic_messages_total", "kind", m.kind, "direction", "in")
		grew("supernode messages in "+m.kind, before,
			mustMetric(t, sn1, "supertracker_traffic_messages_total", "kind", m.kind, "direction", "in"), m.by)
	}
	// libp2p's byte counters are updated once a second: poll.
	bytes0 := mustMetric(t, sn0, "supertracker_libp2p_protocol_bytes_total", "protocol", "/supertracker/leaf/1.0.0", "direction", "in")
	poll(t, 10*time.Second, "supernode bytes in on the leaf protocol grow", func() (bool, string) {
		v, _ := metricValue(scrape(t, sn.api), "supertracker_libp2p_protocol_bytes_total", "protocol", "/supertracker/leaf/1.0.0", "direction", "in")
		return v > bytes0, "still " + strconv.FormatFloat(v, 'f', -1, 64)
	})

	// Gauges: role, records, leaves, health.
	if v := mustMetric(t, sn1, "supertracker_role", "role", "supernode"); v != 1 {
		t.Errorf("supernode role gauge = %v", v)
	}
	if v := mustMetric(t, leaf1, "supertracker_role", "role", "leaf"); v != 1 {
		t.Errorf("leaf role gauge = %v", v)
	}
	if v := mustMetric(t, sn1, "supertracker_records"); v < 1 {
		t.Errorf("supernode records = %v, want ≥ 1", v)
	}
	if v := mustMetric(t, sn1, "supertracker_leaves"); v != 1 {
		t.Errorf("supernode leaves = %v, want 1", v)
	}
	if v := mustMetric(t, leaf1, "supertracker_attached_supernodes"); v != 1 {
		t.Errorf("leaf attached supernodes = %v, want 1", v)
	}
	if a, b := mustMetric(t, sn1, "supertracker_up"), mustMetric(t, leaf1, "supertracker_up"); a != 1 || b != 1 {
		t.Errorf("supertracker_up = %v (supernode), %v (leaf)", a, b)
	}
	mustMetric(t, sn1, "supertracker_dht_routing_table_peers")
	mustMetric(t, sn1, "process_resident_memory_bytes")
}
