package node

import (
	"strings"
	"testing"
	"time"

	"github.com/supertracker/supertracker/election"
)

// TestStatusPageEscapes: every value the page shows comes from peers or
// the network (reasons, addresses, CIDs, errors): markup in any of them is
// shown as text, in element text and in attribute values alike.
func TestStatusPageEscapes(t *testing.T) {
	evil := `<script>alert(1)</script>"onmouseover="x'`
	now := time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)
	d := &statusPageData{Now: now, Role: evil, PeerID: evil, Addrs: []string{evil}, HealthReason: evil, StatusError: evil,
		Supernode: true, Leaves: []string{evil}, IsLeaf: true,
		Supernodes: []pageSupernode{{PeerID: evil, Addr: evil, RTT: evil, Primary: true}},
		Election:   &election.Status{Now: now, Since: now.Add(-time.Minute), Demand: election.DemandStatus{Detail: evil}},
		Criteria:   []pageCriterion{{Name: evil, Value: evil, Threshold: evil, Op: evil, Mark: evil, Detail: evil, AnyOf: evil}},
		Pending:    evil, LastDecis: evil,
		Tracker: &pageTracker{URLs: []string{evil}, AllowList: evil, Torrents: []pageTorrent{{InfoHash: evil, LastAnnounce: evil}}},
		Lookups: []lookupRecord{{At: now, Source: evil, CID: evil, InfoHash: evil, Outcome: evil, Error: evil}},
		Traffic: []pageTraffic{{Kind: evil, MsgsIn: evil, MsgsOut: evil, BytesIn: evil, BytesOut: evil}}}
	page := string(renderStatusPage(d))
	if strings.Contains(page, "<script") || strings.Contains(page, `"onmouseover`) {
		t.Fatalf("markup of a value reached the page:\n%s", page)
	}
	// Every field but the shortened peer IDs shows the value whole.
	if n := strings.Count(page, "&lt;script&gt;"); n < 30 {
		t.Errorf("the escaped value appears %d times; want every field (≥ 30)", n)
	}
	for _, id := range []string{`id="role"`, `id="peer-id"`, `id="addrs"`, `id="load"`, `id="records"`, `id="leaves"`,
		`id="supernodes"`, `id="torrents"`, `id="criteria"`, `id="lookups"`, `id="traffic"`, "</html>"} {
		if !strings.Contains(page, id) {
			t.Errorf("the page has no %s", id)
		}
	}
}

// TestStatusPageEmpty: a node with nothing to show yet says so in each
// section instead of leaving it blank.
func TestStatusPageEmpty(t *testing.T) {
	page := string(renderStatusPage(&statusPageData{Now: time.Now(), IsLeaf: true}))
	for _, want := range []string{`id="role">unknown<`, `<li class="muted">none</li>`, "not attached to any supernode",
		"no lookup served through this API yet", `<td colspan="5" class="muted">none yet</td>`} {
		if !strings.Contains(page, want) {
			t.Errorf("the empty page has no %q", want)
		}
	}
}
