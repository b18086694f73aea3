package btbridge

import (
	"cmp"
	"context"
	"slices"
	"time"

	"github.com/supertracker/supertracker/leaf/bttracker"
)

// LookupInfo describes one overlay lookup the bridge made for a torrent.
type LookupInfo struct {
	InfoHash bttracker.InfoHash
	Holders  int // leaves found holding it (this one included)
	Duration time.Duration
	Err      error
}

// TorrentInfo is what an operator sees of one torrent on this leaf.
type TorrentInfo struct {
	InfoHash bttracker.InfoHash
	// Seeders and Leechers are the live clients of this leaf.
	Seeders, Leechers int
	// SwarmSeeders and SwarmLeechers count every leaf's clients, as the
	// last announce to this leaf saw them.
	SwarmSeeders, SwarmLeechers int
	// Downloaded is every completion known (BEP 48 "downloaded").
	Downloaded int
	// LastAnnounce is when a client of this leaf last announced it.
	LastAnnounce time.Time
	// Announced: this leaf holds the torrent's record in the overlay.
	Announced bool
}

// Torrents lists the torrents this leaf tracks, the most recently
// announced first, at most max (0: all).
func (b *Bridge) Torrents(max int) []TorrentInfo {
	b.mu.Lock()
	now := b.cfg.Now()
	out := make([]TorrentInfo, 0, len(b.torrents))
	for ih, t := range b.torrents {
		ti := TorrentInfo{InfoHash: ih, SwarmSeeders: t.swarmSeeders, SwarmLeechers: t.swarmLeechers,
			Downloaded: b.done.total(ih), LastAnnounce: t.lastAnnounce, Announced: t.announced}
		ti.Seeders, ti.Leechers = t.liveCounts(now)
		out = append(out, ti)
	}
	b.mu.Unlock()
	slices.SortFunc(out, func(x, y TorrentInfo) int {
		return cmp.Or(y.LastAnnounce.Compare(x.LastAnnounce), cmp.Compare(x.InfoHash.String(), y.InfoHash.String()))
	})
	if max > 0 && len(out) > max {
		out = out[:max]
	}
	return out
}

// ScrapeAll implements bttracker.FullScraper: the torrents of this leaf's
// clients with their local counts (a full scrape over the whole overlay
// would ask every leaf). The frontend calls it only with
// bttracker.Config.FullScrape on.
func (b *Bridge) ScrapeAll(_ context.Context, max int) ([]bttracker.InfoHash, []bttracker.ScrapeStats, error) {
	ts := b.Torrents(max)
	hs := make([]bttracker.InfoHash, len(ts))
	stats := make([]bttracker.ScrapeStats, len(ts))
	for i, t := range ts {
		hs[i] = t.InfoHash
		stats[i] = bttracker.ScrapeStats{Complete: t.Seeders, Incomplete: t.Leechers, Downloaded: t.Downloaded}
	}
	return hs, stats, nil
}

// SetAccessList replaces the infohash allow/deny list (nil: every
// torrent). Announces and scrapes of torrents it refuses are answered
// "unregistered torrent" from then on; clients already registered for
// them are dropped, and the torrents withdrawn, by a sweep run at once.
func (b *Bridge) SetAccessList(l *bttracker.AccessList) {
	b.fe.SetAccessList(l)
	select {
	case b.kick <- struct{}{}: // sweep now: drop the clients it refuses
	default:
	}
}
