package node

// The status page's HTML, written by hand rather than with html/template:
// text/template looks methods up by name at run time, which makes the
// linker keep every exported method of every type in the binary (3.8 MB
// more binary, 2.5 MB more resident in every process, a leaf's included).
// The page has only two contexts, element text and double-quoted
// attribute values, and every value goes through html.EscapeString, which
// is right for both.

import (
	"bytes"
	_ "embed"
	"fmt"
	"html"
	"strconv"
	"time"
)

//go:embed statuspage.css
var statusPageCSS string

// page writes HTML: raw for markup, text (escaped) for values.
type page struct{ bytes.Buffer }

func (p *page) raw(ss ...string) {
	for _, s := range ss {
		p.WriteString(s)
	}
}

func (p *page) text(s string) { p.WriteString(html.EscapeString(s)) }
func (p *page) int(n int)     { p.WriteString(strconv.Itoa(n)) }
func (p *page) f2(x float64)  { p.WriteString(strconv.FormatFloat(x, 'f', 2, 64)) }

// num writes a right-aligned number cell.
func (p *page) num(v string) { p.raw(`<td class="num">`); p.text(v); p.raw("</td>") }

// code writes <code>s</code>.
func (p *page) code(s string) { p.raw("<code>"); p.text(s); p.raw("</code>") }

// card writes one of the page's number cards.
func (p *page) card(key, value string) {
	p.raw(`  <div class="card"><div class="k">`, key, `</div><div class="v">`)
	p.text(value)
	p.raw("</div></div>\n")
}

// list writes a <ul class="plain"> of code items, or empty when there is none.
func (p *page) list(id string, items []string, empty string) {
	p.raw(`<ul class="plain" id="`, id, `">`)
	for _, s := range items {
		p.raw("<li>")
		p.code(s)
		p.raw("</li>")
	}
	if len(items) == 0 {
		p.raw(`<li class="muted">`, empty, "</li>")
	}
	p.raw("</ul>\n")
}

func shortID(s string) string {
	if len(s) <= 20 {
		return s
	}
	return s[:8] + "…" + s[len(s)-8:]
}

// renderStatusPage writes the whole page for d.
func renderStatusPage(d *statusPageData) []byte {
	var p page
	p.raw(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="refresh" content="10">
<title>supertracker `)
	p.text(d.Role)
	p.raw(" ")
	p.text(shortID(d.PeerID))
	p.raw("</title>\n<style>\n", statusPageCSS, "</style>\n</head>\n<body>\n")
	role := d.Role
	if role == "" {
		role = "unknown"
	}
	p.raw(`<h1>supertracker <span class="role `)
	p.text(d.Role)
	p.raw(`" id="role">`)
	p.text(role)
	p.raw("</span>\n")
	if d.Healthy {
		p.raw(`<span class="health ok">serving</span>`)
	} else {
		p.raw(`<span class="health bad" title="`)
		p.text(d.HealthReason)
		p.raw(`">not serving: `)
		p.text(d.HealthReason)
		p.raw("</span>")
	}
	p.raw("</h1>\n", `<p class="sub">Peer ID <code id="peer-id">`)
	p.text(d.PeerID)
	p.raw("</code> · up ")
	p.text(d.Uptime)
	p.raw("</p>\n")
	if d.StatusError != "" {
		p.raw(`<p class="mark no">Status unavailable: `)
		p.text(d.StatusError)
		p.raw("</p>\n")
	}
	p.raw("\n<h2>Addresses</h2>\n")
	p.list("addrs", d.Addrs, "none")
	if d.Supernode {
		p.renderSupernode(d)
	}
	if d.IsLeaf {
		p.renderLeaf(d)
	}
	if d.Tracker != nil {
		p.renderTracker(d.Tracker)
	}
	p.renderElection(d)
	p.renderLookups(d)
	p.renderTraffic(d.Traffic)
	p.raw(`
<footer>Rendered `, d.Now.Format("2006-01-02 15:04:05 MST"), ` · refreshes every 10 s · machine-readable: <a href="/v1/status">/v1/status</a> · <a href="/metrics">/metrics</a> · <a href="/healthz">/healthz</a></footer>
</body>
</html>
`)
	return p.Bytes()
}

func (p *page) renderSupernode(d *statusPageData) {
	p.raw("\n<h2>Supernode</h2>\n", `<div class="cards" id="load">`, "\n")
	p.card("leaves attached", fmt.Sprintf("%d / %d", d.LeafCount, d.MaxLeaves))
	p.raw(`  <div class="card"><div class="k">records held</div><div class="v" id="records">`)
	p.int(d.Records)
	p.raw("</div></div>\n")
	p.card("leaves with records", strconv.Itoa(d.RecordLeaves))
	p.card("load ρ", strconv.FormatFloat(d.Rho, 'f', 2, 64))
	p.card("requests / s", strconv.FormatFloat(d.ReqPerSec, 'f', 2, 64))
	p.card("DHT routing table", strconv.Itoa(d.RoutingTable))
	p.raw("</div>\n<h2>Attached leaves (")
	p.int(d.LeafCount)
	p.raw(")</h2>\n")
	p.list("leaves", d.Leaves, "no leaf attached")
}

func (p *page) renderLeaf(d *statusPageData) {
	p.raw("\n<h2>Supernodes (primary first)</h2>\n", `<div class="cards">`, "\n")
	p.card("objects announced", strconv.Itoa(d.Objects))
	p.card("failovers", strconv.Itoa(d.Failovers))
	p.raw("</div>\n", `<table id="supernodes">`, "\n",
		`<tr><th></th><th>peer</th><th>address</th><th class="num">RTT</th><th class="num">leaves</th><th class="num">ρ</th></tr>`, "\n")
	for _, s := range d.Supernodes {
		p.raw("<tr><td>")
		if s.Primary {
			p.raw("<b>primary</b>")
		} else {
			p.raw("backup")
		}
		p.raw(`</td><td><code title="`)
		p.text(s.PeerID)
		p.raw(`">`)
		p.text(shortID(s.PeerID))
		p.raw("</code></td><td>")
		p.code(s.Addr)
		p.raw("</td>")
		p.num(s.RTT)
		p.num(fmt.Sprintf("%d / %d", s.Leaves, s.MaxLeaves))
		p.num(strconv.FormatFloat(s.Rho, 'f', 2, 64))
		p.raw("</tr>\n")
	}
	if len(d.Supernodes) == 0 {
		p.raw(`<tr><td colspan="6" class="muted">not attached to any supernode</td></tr>`)
	}
	p.raw("</table>\n")
}

func (p *page) renderTracker(t *pageTracker) {
	p.raw("\n<h2>BitTorrent tracker</h2>\n<p>Announce URLs: ")
	for i, u := range t.URLs {
		if i > 0 {
			p.raw(" · ")
		}
		p.raw(`<code class="tracker-url">`)
		p.text(u)
		p.raw("</code>")
	}
	p.raw("<br>\n", `<span class="muted">Serves `)
	p.text(t.AllowList)
	if t.DenyList != 0 {
		p.raw(", ")
		p.int(t.DenyList)
		p.raw(" denied")
	}
	if t.FullScrapes {
		p.raw(" · full scrape on</span></p>\n")
	} else {
		p.raw(" · full scrape off</span></p>\n")
	}
	p.raw(`<div class="cards">`, "\n")
	p.card("torrents", strconv.Itoa(t.Total))
	p.card("seeders here", strconv.Itoa(t.Seeders))
	p.card("leechers here", strconv.Itoa(t.Leechers))
	p.raw("</div>\n", `<table id="torrents">`, "\n",
		`<tr><th>infohash</th><th class="num">seeders</th><th class="num">leechers</th><th class="num">swarm (all leaves)</th><th class="num">downloaded</th><th>last announce</th><th>in overlay</th></tr>`, "\n")
	for _, r := range t.Torrents {
		p.raw(`<tr class="torrent"><td>`)
		p.code(r.InfoHash)
		p.raw("</td>")
		p.num(strconv.Itoa(r.Seeders))
		p.num(strconv.Itoa(r.Leechers))
		p.num(fmt.Sprintf("%d / %d", r.SwarmSeeders, r.SwarmLeechers))
		p.num(strconv.Itoa(r.Downloaded))
		p.raw("<td>")
		p.text(r.LastAnnounce)
		if r.Announced {
			p.raw("</td><td>yes</td></tr>\n")
		} else {
			p.raw("</td><td>no</td></tr>\n")
		}
	}
	if len(t.Torrents) == 0 {
		p.raw(`<tr><td colspan="7" class="muted">no torrent announced to this tracker yet</td></tr>`)
	}
	p.raw("</table>\n")
}

func (p *page) renderElection(d *statusPageData) {
	if el := d.Election; el != nil {
		p.raw("\n<h2>Election</h2>\n<p>Role <b>")
		p.text(el.Role.String())
		p.raw("</b> for ")
		p.text(el.Now.Sub(el.Since).Round(time.Second).String())
		p.raw(", role changes: ")
		p.int(el.RoleChanges)
		p.raw(" ·\neligible: ")
		if el.Eligible {
			p.raw(`<span class="mark ok">yes</span>`)
		} else {
			p.raw(`<span class="mark no">no</span>`)
		}
		p.raw(" · score ")
		p.f2(el.Score)
		p.raw(" ·\ndemand: <b>")
		p.text(fmt.Sprint(el.Demand.Condition))
		p.raw("</b>, ρ ")
		p.f2(el.Demand.Rho)
		p.raw(", fill ")
		p.f2(el.Demand.Fill)
		p.raw(" from ")
		p.int(el.Demand.Reporters)
		p.raw(" supernodes</p>\n", `<p class="muted">`)
		p.text(el.Demand.Detail)
		p.raw("</p>\n")
	}
	if len(d.Criteria) > 0 {
		p.raw(`<table id="criteria">`, "\n",
			`<tr><th>criterion</th><th class="num">measured</th><th></th><th>threshold</th><th>status</th><th>detail</th></tr>`, "\n")
		for _, c := range d.Criteria {
			p.raw(`<tr class="criterion" data-name="`)
			p.text(c.Name)
			p.raw(`"><td>`)
			p.text(c.Name)
			p.raw("</td>")
			p.num(c.Value)
			p.raw("<td>")
			p.text(c.Op)
			p.raw("</td><td>")
			p.text(c.Threshold)
			p.raw(`</td><td><span class="mark `)
			p.text(c.Mark)
			p.raw(`">`)
			p.text(c.Mark)
			p.raw(`</span></td><td class="muted">`)
			p.text(c.Detail)
			if c.AnyOf != "" {
				p.raw(" (")
				p.text(c.AnyOf)
				p.raw(")")
			}
			p.raw("</td></tr>\n")
		}
		p.raw("</table>\n")
	}
	if d.Election != nil {
		p.raw("<p>Pending: ")
		p.textOr(d.Pending)
		p.raw("<br>\nLast decision: ")
		p.textOr(d.LastDecis)
		p.raw("</p>\n")
	}
}

// textOr writes s, or a muted "none" when it is empty.
func (p *page) textOr(s string) {
	if s == "" {
		p.raw(`<span class="muted">none</span>`)
		return
	}
	p.text(s)
}

func (p *page) renderLookups(d *statusPageData) {
	p.raw("\n<h2>Recent lookups</h2>\n", `<table id="lookups">`, "\n",
		`<tr><th>time</th><th>via</th><th>object</th><th class="num">holders</th><th class="num">latency</th><th>outcome</th></tr>`, "\n")
	for _, l := range d.Lookups {
		p.raw(`<tr class="lookup"><td>`, l.At.Local().Format("15:04:05"), "</td><td>")
		p.text(l.Source)
		p.raw("</td><td>")
		if l.InfoHash != "" {
			p.raw(`torrent <code title="`)
			p.text(l.CID)
			p.raw(`">`)
			p.text(l.InfoHash)
			p.raw("</code>")
		} else {
			p.code(l.CID)
		}
		p.raw("</td>")
		p.num(strconv.Itoa(l.Holders))
		p.num(fmt.Sprintf("%.1f ms", float64(l.Latency.Microseconds())/1000))
		p.raw("<td>")
		p.text(l.Outcome)
		if l.Error != "" {
			p.raw(` <span class="muted">(`)
			p.text(l.Error)
			p.raw(")</span>")
		}
		p.raw("</td></tr>\n")
	}
	if len(d.Lookups) == 0 {
		p.raw(`<tr><td colspan="6" class="muted">no lookup served through this API yet`)
		if d.Supernode {
			p.raw(" (leaves' lookups count under traffic: leaf/lookup)")
		}
		p.raw("</td></tr>")
	}
	p.raw("</table>\n")
}

func (p *page) renderTraffic(rows []pageTraffic) {
	p.raw("\n<h2>Traffic since start</h2>\n", `<table id="traffic">`, "\n",
		`<tr><th>protocol / kind</th><th class="num">msgs in</th><th class="num">msgs out</th><th class="num">bytes in</th><th class="num">bytes out</th></tr>`, "\n")
	for _, t := range rows {
		p.raw("<tr><td>")
		p.code(t.Kind)
		p.raw("</td>")
		for _, v := range []string{t.MsgsIn, t.MsgsOut, t.BytesIn, t.BytesOut} {
			p.num(v)
		}
		p.raw("</tr>\n")
	}
	if len(rows) == 0 {
		p.raw(`<tr><td colspan="5" class="muted">none yet</td></tr>`)
	}
	p.raw("</table>\n")
}
