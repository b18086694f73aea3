package bttracker

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// recorder collects OnRequest calls.
type recorder struct {
	mu   sync.Mutex
	seen []RequestInfo
}

func (r *recorder) observe(i RequestInfo) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.seen = append(r.seen, i)
}

func (r *recorder) last(tb testing.TB) RequestInfo {
	tb.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.seen) == 0 {
		tb.Fatal("no request observed")
	}
	return r.seen[len(r.seen)-1]
}

// Acceptance (issue 14, 5): a GET a web page makes the browser send to
// the tracker (a cross-site <img>, a fetch, a link followed from a page)
// never reaches the Tracker: nothing is announced in the user's name.
func TestCrossSiteRequestsChangeNothing(t *testing.T) {
	tr := &fakeTracker{}
	rec := &recorder{}
	f := newFrontend(t, tr, Config{OnRequest: rec.observe})
	srv := httptest.NewServer(f)
	defer srv.Close()
	q := announceQuery(ih(1), "event=started")
	for _, h := range []map[string]string{
		{"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "no-cors", "Sec-Fetch-Dest": "image"}, // <img src=…>
		{"Origin": "http://evil.example", "Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "cors"},
		{"Sec-Fetch-Site": "same-site", "Sec-Fetch-Mode": "no-cors"},   // a page on another localhost port
		{"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "navigate"}, // a link
		{"Referer": "http://evil.example/page.html"},                   // an older browser
		{"Origin": "null"},
	} {
		for _, path := range []string{"/announce?" + q, "/scrape?info_hash=" + escapeAll(s20(ih(1)))} {
			if code := getStatus(t, srv.URL+path, h); code != http.StatusForbidden {
				t.Errorf("%v %s: status %d, want 403", h, path[:9], code)
			}
			if got := rec.last(t).Result; got != ResultCrossSite {
				t.Errorf("%v: observed %q, want %q", h, got, ResultCrossSite)
			}
		}
	}
	if n := tr.numAnnounces(); n != 0 || len(tr.scrapes) != 0 {
		t.Fatalf("the tracker saw %d announces and %d scrapes from web pages, want none", n, len(tr.scrapes))
	}
	// A BitTorrent client (no browser markers) and a person typing the URL
	// (Sec-Fetch-Site: none) are served.
	for _, h := range []map[string]string{{"User-Agent": "Transmission/4.0"}, {"Sec-Fetch-Site": "none", "Sec-Fetch-Mode": "navigate"}} {
		if code := getStatus(t, srv.URL+"/announce?"+q, h); code != 200 {
			t.Errorf("%v: status %d", h, code)
		}
	}
	if n := tr.numAnnounces(); n != 2 {
		t.Fatalf("%d announces reached the tracker, want 2", n)
	}
}

func writeList(t *testing.T, name string, lines ...string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// The allow and deny lists: announces of other torrents are refused with
// "unregistered torrent" before the Tracker sees them, over HTTP and UDP;
// scrapes report zeros for them; replacing the list takes effect at once.
func TestAccessList(t *testing.T) {
	allowed, denied, other := ih(0x10), ih(0x20), ih(0x30)
	allow := writeList(t, "allow", "# torrents we serve", allowed.String(), strings.ToUpper(denied.String())+"  # listed, but denied too", "")
	deny := writeList(t, "deny", denied.String())
	acl, err := LoadAccessList(allow, deny)
	if err != nil {
		t.Fatal(err)
	}
	if a, d := acl.Len(); a != 2 || d != 1 {
		t.Fatalf("lengths %d, %d", a, d)
	}
	tr := &fakeTracker{}
	rec := &recorder{}
	f := newFrontend(t, tr, Config{OnRequest: rec.observe})
	f.SetAccessList(acl)

	for _, tc := range []struct {
		h    InfoHash
		want string
	}{{allowed, ""}, {denied, "unregistered torrent"}, {other, "unregistered torrent"}} {
		d := decodeDict(t, get(f, "/announce", announceQuery(tc.h, ""), "127.0.0.1:5000"))
		got, _ := d["failure reason"].(string)
		if got != tc.want {
			t.Errorf("announce %s: failure %q, want %q", tc.h, got, tc.want)
		}
		if want := map[bool]string{true: ResultOK, false: ResultDenied}[tc.want == ""]; rec.last(t).Result != want {
			t.Errorf("announce %s observed as %q, want %q", tc.h, rec.last(t).Result, want)
		}
	}
	if n := tr.numAnnounces(); n != 1 || tr.lastAnnounce(t).InfoHash != allowed {
		t.Fatalf("the tracker saw %d announces, want only the allowed torrent's", n)
	}

	// Scrape: the denied torrents get zeros and are not asked about.
	q := "info_hash=" + escapeAll(s20(denied)) + "&info_hash=" + escapeAll(s20(allowed)) + "&info_hash=" + escapeAll(s20(other))
	files := decodeDict(t, get(f, "/scrape", q, "127.0.0.1:5000"))["files"].(map[string]any)
	if c := files[s20(allowed)].(map[string]any)["complete"].(int64); c != int64(allowed[0]) {
		t.Errorf("allowed torrent complete %d, want %d", c, allowed[0])
	}
	for _, h := range []InfoHash{denied, other} {
		if c := files[s20(h)].(map[string]any)["complete"].(int64); c != 0 {
			t.Errorf("denied torrent %s complete %d, want 0", h, c)
		}
	}
	if last := tr.scrapes[len(tr.scrapes)-1]; len(last) != 1 || last[0] != allowed {
		t.Errorf("tracker scraped %v, want only the allowed torrent", last)
	}

	// UDP announce of a denied torrent.
	srv := startUDP(t, f)
	c := dialUDP(t, srv.LocalAddr())
	tid := c.nextTID()
	conn := c.roundTrip(connectPacket(tid))
	id := uint64(0)
	for _, b := range conn[8:16] {
		id = id<<8 | uint64(b)
	}
	tid = c.nextTID()
	resp := c.roundTrip(udpAnnounce{connID: id, tid: tid, hash: other, peer: pid('U'), left: 1, numWant: 10, port: 6881}.bytes())
	if msg := wantError(t, resp, tid); msg != "unregistered torrent" {
		t.Errorf("UDP announce of an unlisted torrent: %q", msg)
	}
	if got := rec.last(t); got.Protocol != ProtocolUDP || got.Result != ResultDenied {
		t.Errorf("UDP denied announce observed as %+v", got)
	}

	// A new list: everything allowed but the deny list.
	acl2, err := LoadAccessList("", deny)
	if err != nil {
		t.Fatal(err)
	}
	f.SetAccessList(acl2)
	if d := decodeDict(t, get(f, "/announce", announceQuery(other, ""), "127.0.0.1:5000")); d["failure reason"] != nil {
		t.Errorf("after reload, announce of an unlisted torrent: %v", d["failure reason"])
	}

	// Bad files are refused whole, with the line.
	if _, err := LoadAccessList(writeList(t, "bad", allowed.String(), "not-a-hash"), ""); err == nil || !strings.Contains(err.Error(), "line 2") {
		t.Errorf("bad list: %v", err)
	}
	if _, err := LoadAccessList(filepath.Join(t.TempDir(), "missing"), ""); err == nil {
		t.Error("missing list file: no error")
	}
}

// fullTracker lists two torrents.
type fullTracker struct{ fakeTracker }

func (t *fullTracker) ScrapeAll(_ context.Context, max int) ([]InfoHash, []ScrapeStats, error) {
	return []InfoHash{ih(1), ih(2)}[:min(2, max)], []ScrapeStats{{Complete: 1}, {Complete: 2, Downloaded: 5}}[:min(2, max)], nil
}

// Full scrape is off by default, even for a Tracker that could list its
// torrents; on, it lists them (but the denied ones).
func TestFullScrape(t *testing.T) {
	tr := &fullTracker{}
	off := newFrontend(t, tr, Config{})
	if got := failureReason(t, get(off, "/scrape", "", "127.0.0.1:1")); !strings.Contains(got, "full scrape not supported") {
		t.Fatalf("full scrape by default: %q", got)
	}
	on := newFrontend(t, tr, Config{FullScrape: true})
	files := decodeDict(t, get(on, "/scrape", "", "127.0.0.1:1"))["files"].(map[string]any)
	if len(files) != 2 || files[s20(ih(2))].(map[string]any)["downloaded"].(int64) != 5 {
		t.Fatalf("full scrape: %v", files)
	}
	acl, _ := LoadAccessList("", writeList(t, "deny", ih(1).String()))
	on.SetAccessList(acl)
	files = decodeDict(t, get(on, "/scrape", "", "127.0.0.1:1"))["files"].(map[string]any)
	if _, ok := files[s20(ih(1))]; ok || len(files) != 1 {
		t.Fatalf("full scrape lists a denied torrent: %v", files)
	}
}

// OnRequest sees every answered request with its protocol, kind, result,
// and for announces the peers and swarm counts returned.
func TestOnRequest(t *testing.T) {
	tr := &fakeTracker{resp: AnnounceResponse{Complete: 3, Incomplete: 4, Peers: []Peer{
		{IP: v4a, Port: 1}, {IP: v4b, Port: 2}, {IP: v6a, Port: 3}}}}
	rec := &recorder{}
	f := newFrontend(t, tr, Config{OnRequest: rec.observe})
	get(f, "/announce", announceQuery(ih(1), "event=completed"), "127.0.0.1:5000")
	if got := rec.last(t); got != (RequestInfo{Protocol: ProtocolHTTP, Kind: KindAnnounce, Result: ResultOK, Event: EventCompleted,
		Peers: 3, Seeders: 3, Leechers: 4}) {
		t.Errorf("HTTP announce observed as %+v (two in peers, one in peers6)", got)
	}
	get(f, "/announce", "info_hash=short", "127.0.0.1:5000")
	if got := rec.last(t); got.Result != ResultInvalid || got.Kind != KindAnnounce {
		t.Errorf("bad announce observed as %+v", got)
	}
	tr.err = ErrUnavailable
	get(f, "/announce", announceQuery(ih(1), ""), "127.0.0.1:5000")
	if got := rec.last(t).Result; got != ResultUnavailable {
		t.Errorf("unavailable announce observed as %q", got)
	}
	tr.err = ClientError("tracker full")
	get(f, "/announce", announceQuery(ih(1), ""), "127.0.0.1:5000")
	if got := rec.last(t).Result; got != ResultRefused {
		t.Errorf("refused announce observed as %q", got)
	}
	get(f, "/scrape", "info_hash="+escapeAll(s20(ih(1)))+"&info_hash="+escapeAll(s20(ih(2))), "127.0.0.1:5000")
	if got := rec.last(t); got != (RequestInfo{Protocol: ProtocolHTTP, Kind: KindScrape, Result: ResultOK, InfoHashes: 2}) {
		t.Errorf("scrape observed as %+v", got)
	}
}

// getStatus GETs url with header and returns the HTTP status.
func getStatus(t *testing.T, url string, header map[string]string) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}
