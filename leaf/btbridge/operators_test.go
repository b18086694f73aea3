package btbridge_test

import (
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/supertracker/supertracker/leaf/btbridge"
	"github.com/supertracker/supertracker/leaf/bttracker"
)

// clock is a settable clock for a bridge's client expiry.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// What operators and users of the bridge count on (issue 16): scrape's
// downloaded counts completions wherever they happened, stopped and
// vanished clients stop being handed out, the allow/deny list, the
// per-torrent view.
func TestBridgeOperators(t *testing.T) {
	sns := startSupernodes(t, 3)
	la, lb, lc := startLeaf(t, sns[0]), startLeaf(t, sns[1]), startLeaf(t, sns[2])
	clk := &clock{t: time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)}
	var lookups []btbridge.LookupInfo
	var lmu sync.Mutex
	ta := startBridge(t, la, btbridge.Config{})
	tb := startBridge(t, lb, btbridge.Config{OnLookup: func(l btbridge.LookupInfo) {
		lmu.Lock()
		defer lmu.Unlock()
		lookups = append(lookups, l)
	}})
	// Leaf C's clients expire by a clock the test moves: interval 10 s.
	tc := startBridge(t, lc, btbridge.Config{Interval: 10 * time.Second, Now: clk.Now, SweepInterval: time.Hour})
	if got := tc.br.Config().PeerTimeout; got != 15*time.Second {
		t.Fatalf("PeerTimeout %s, want 1.5 × the 10 s interval", got)
	}

	// Acceptance (issue 16, 2): after three clients complete a torrent
	// through the bridge, scrape says downloaded 3, at every leaf, though
	// each client left and its leaf withdrew the torrent.
	t.Run("DownloadedCountsCompletions", func(t *testing.T) {
		ih := infoHash("three-completions")
		seeder := newClient(t, "S", "127.0.2.1", 6100)
		compactPeers(t, seeder.announce(t, ta, ih, 0, "started", nil))
		for i, tr := range []*tracker{tb, tc, tb} { // two through leaf B, one through leaf C
			l := newClient(t, "L"+string(rune('1'+i)), "127.0.2."+string(rune('2'+i)), uint16(6101+i))
			if ps := compactPeers(t, l.announce(t, tr, ih, 100, "started", nil)); !contains(ps, seeder.addr()) {
				t.Fatalf("leecher %d got %v, want the seeder", i+1, ps)
			}
			compactPeers(t, l.announce(t, tr, ih, 0, "completed", nil))
			if i == 2 { // a client repeating its completion is counted once
				compactPeers(t, l.announce(t, tr, ih, 0, "completed", nil))
			}
			l.announce(t, tr, ih, 0, "stopped", nil)
		}
		for name, tr := range map[string]*tracker{"A (the seeder's)": ta, "B": tb, "C": tc} {
			if c, i, dl := seeder.scrape(t, tr, ih); c != 1 || i != 0 || dl != 3 {
				t.Errorf("scrape at leaf %s: complete %d incomplete %d downloaded %d, want 1/0/3", name, c, i, dl)
			}
		}
		// Leaf B left the swarm (its clients stopped) but kept its count.
		waitFor(t, 10*time.Second, "leaf B to withdraw", func() bool { return !hasCID(lb, bttracker.InfoHashToCID(ih)) })
		if _, _, dl := seeder.scrape(t, tb, ih); dl != 3 {
			t.Errorf("scrape at leaf B after it withdrew: downloaded %d, want 3", dl)
		}
	})

	// Acceptance (issue 16, 2): a client that sent "stopped" is gone from
	// the very next announce's peers; one that vanished is gone once 1.5
	// intervals passed since its last announce, not a moment later.
	t.Run("StoppedAndVanished", func(t *testing.T) {
		ih := infoHash("vanish")
		asker := newClient(t, "Q", "127.0.3.1", 6200)
		stopper := newClient(t, "X", "127.0.3.2", 6201)
		vanisher := newClient(t, "V", "127.0.3.3", 6202)
		compactPeers(t, stopper.announce(t, tc, ih, 100, "started", nil))
		compactPeers(t, vanisher.announce(t, tc, ih, 100, "started", nil))
		ps := compactPeers(t, asker.announce(t, tb, ih, 100, "started", nil))
		if !contains(ps, stopper.addr()) || !contains(ps, vanisher.addr()) {
			t.Fatalf("asker got %v, want both", ps)
		}
		stopper.announce(t, tc, ih, 100, "stopped", nil)
		ps = compactPeers(t, asker.announce(t, tb, ih, 100, "", nil))
		if contains(ps, stopper.addr()) || !contains(ps, vanisher.addr()) {
			t.Fatalf("after stopped: asker got %v, want only %v", ps, vanisher.addr())
		}
		clk.advance(15*time.Second - time.Millisecond)
		if ps := compactPeers(t, asker.announce(t, tb, ih, 100, "", nil)); !contains(ps, vanisher.addr()) {
			t.Fatalf("just under 1.5 intervals: asker got %v, want the silent client still", ps)
		}
		clk.advance(time.Millisecond)
		if ps := compactPeers(t, asker.announce(t, tb, ih, 100, "", nil)); len(ps) != 0 {
			t.Fatalf("1.5 intervals after its last announce: asker still got %v", ps)
		}
		if c, i, _ := asker.scrape(t, tb, ih); c != 0 || i != 1 {
			t.Fatalf("scrape after the expiry: %d/%d, want 0/1 (the asker)", c, i)
		}
	})

	// The per-torrent view the status page shows, and the lookups the
	// bridge reports.
	t.Run("Torrents", func(t *testing.T) {
		ih := infoHash("view")
		a := newClient(t, "W", "127.0.4.1", 6300)
		before := time.Now()
		compactPeers(t, a.announce(t, tb, ih, 100, "started", nil))
		var got *btbridge.TorrentInfo
		for _, ti := range tb.br.Torrents(0) {
			if ti.InfoHash == ih {
				got = &ti
			}
		}
		if got == nil || got.Leechers != 1 || got.Seeders != 0 || got.SwarmLeechers != 1 || !got.Announced || got.LastAnnounce.Before(before) {
			t.Fatalf("leaf B's view of %s: %+v", ih, got)
		}
		if ts := tb.br.Torrents(1); len(ts) != 1 || ts[0].InfoHash != ih {
			t.Fatalf("Torrents(1) = %+v, want the most recently announced", ts)
		}
		lmu.Lock()
		defer lmu.Unlock()
		if !slices.ContainsFunc(lookups, func(l btbridge.LookupInfo) bool { return l.InfoHash == ih && l.Err == nil }) {
			t.Fatalf("no successful lookup of %s reported: %+v", ih, lookups)
		}
	})

	// An infohash denied while clients use it: new announces are refused,
	// the registered clients dropped, the torrent withdrawn.
	t.Run("DenyList", func(t *testing.T) {
		ih, other := infoHash("deny-me"), infoHash("keep-me")
		a := newClient(t, "D", "127.0.5.1", 6400)
		compactPeers(t, a.announce(t, ta, ih, 100, "started", nil))
		compactPeers(t, a.announce(t, ta, other, 100, "started", nil))
		path := filepath.Join(t.TempDir(), "deny")
		if err := os.WriteFile(path, []byte(ih.String()+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		acl, err := bttracker.LoadAccessList("", path)
		if err != nil {
			t.Fatal(err)
		}
		ta.br.SetAccessList(acl)
		if d := a.announce(t, ta, ih, 100, "", nil); d["failure reason"] != "unregistered torrent" {
			t.Fatalf("announce of a denied torrent: %v", d)
		}
		waitFor(t, 15*time.Second, "the denied torrent to be withdrawn", func() bool {
			return !hasCID(la, bttracker.InfoHashToCID(ih))
		})
		if !hasCID(la, bttracker.InfoHashToCID(other)) {
			t.Fatal("the allowed torrent was withdrawn too")
		}
		if ps := compactPeers(t, newClient(t, "E", "127.0.5.2", 6401).announce(t, tb, ih, 100, "started", nil)); contains(ps, a.addr()) {
			t.Fatalf("leaf B still hands out the client of the denied torrent: %v", ps)
		}
	})
}
