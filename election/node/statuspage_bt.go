package node

import (
	"strconv"
	"time"
)

// maxPageTorrents bounds the torrents the status page lists.
const maxPageTorrents = 50

// pageTracker is the status page's BitTorrent tracker section.
type pageTracker struct {
	URLs        []string
	Torrents    []pageTorrent
	Total       int // torrents tracked (the page lists the most recent)
	AllowList   string
	DenyList    int
	Seeders     int
	Leechers    int
	FullScrapes bool
}

type pageTorrent struct {
	InfoHash                    string
	Seeders, Leechers           int
	SwarmSeeders, SwarmLeechers int
	Downloaded                  int
	LastAnnounce                string // "12s ago"
	Announced                   bool
}

// trackerSection is the bridge's view, nil when the node runs none.
func (v *opsView) trackerSection(now time.Time) *pageTracker {
	bv := v.bridge.Load()
	if bv == nil {
		return nil
	}
	p := &pageTracker{URLs: bv.urls, AllowList: "every torrent", FullScrapes: bv.br.Frontend().Config().FullScrape}
	if a, d := bv.br.Frontend().AccessList().Len(); a >= 0 {
		p.AllowList = plural(a, "listed torrent")
		p.DenyList = d
	} else {
		p.DenyList = d
	}
	all := bv.br.Torrents(0)
	p.Total = len(all)
	for i, t := range all {
		p.Seeders += t.Seeders
		p.Leechers += t.Leechers
		if i >= maxPageTorrents {
			continue
		}
		row := pageTorrent{InfoHash: t.InfoHash.String(), Seeders: t.Seeders, Leechers: t.Leechers,
			SwarmSeeders: t.SwarmSeeders, SwarmLeechers: t.SwarmLeechers, Downloaded: t.Downloaded, Announced: t.Announced, LastAnnounce: "—"}
		if !t.LastAnnounce.IsZero() {
			row.LastAnnounce = now.Sub(t.LastAnnounce).Round(time.Second).String() + " ago"
		}
		p.Torrents = append(p.Torrents, row)
	}
	return p
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return strconv.Itoa(n) + " " + what + "s"
}
