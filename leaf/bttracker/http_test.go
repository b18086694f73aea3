package bttracker

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"testing"
	"time"
)

// TestInfoHashAllBytes sends infohashes covering all 256 byte values through
// several encodings: every byte escaped (upper and lower hex), Go's
// url.QueryEscape (which uses '+' for space) and a minimal encoder that
// leaves every byte raw except '%', '&', '+' and '='.
func TestInfoHashAllBytes(t *testing.T) {
	lower := func(s string) string {
		var b strings.Builder
		for i := 0; i < len(s); i++ {
			fmt.Fprintf(&b, "%%%02x", s[i])
		}
		return b.String()
	}
	minimal := func(s string) string {
		var b strings.Builder
		for i := 0; i < len(s); i++ {
			switch c := s[i]; c {
			case '%', '&', '+', '=':
				fmt.Fprintf(&b, "%%%02X", c)
			default:
				b.WriteByte(c)
			}
		}
		return b.String()
	}
	encoders := map[string]func(string) string{
		"upper": escapeAll, "lower": lower, "QueryEscape": url.QueryEscape, "minimal": minimal,
	}
	tr := &fakeTracker{}
	f := newFrontend(t, tr, Config{})
	for name, enc := range encoders {
		for start := 0; start < 256; start += 20 {
			var h InfoHash
			var p PeerID
			for i := range h {
				h[i] = byte(start + i)
				p[i] = byte(255 - start - i)
			}
			q := "info_hash=" + enc(string(h[:])) + "&peer_id=" + enc(string(p[:])) + "&port=1&left=0"
			w := get(f, "/announce", q, "127.0.0.1:9999")
			d := decodeDict(t, w)
			if r, ok := d["failure reason"]; ok {
				t.Fatalf("%s: start %d: failure %q", name, start, r)
			}
			got := tr.lastAnnounce(t)
			if got.InfoHash != h || got.PeerID != p {
				t.Fatalf("%s: start %d: got %x/%x, want %x/%x", name, start, got.InfoHash, got.PeerID, h, p)
			}
		}
	}
}

// TestURLParseQueryDifference documents why the query is parsed by hand:
// url.ParseQuery decodes binary escapes correctly but drops any pair holding
// a raw ';', which sloppy clients may leave unescaped in a binary value.
func TestURLParseQueryDifference(t *testing.T) {
	raw := "info_hash=" + strings.Repeat("a", 19) + ";"
	v, err := url.ParseQuery(raw)
	if err == nil || v.Has("info_hash") {
		t.Logf("url.ParseQuery behaviour changed: %v %v", v, err)
	}
	ps, err := parseQuery(raw, 10)
	if err != nil || len(ps) != 1 || ps[0].value != strings.Repeat("a", 19)+";" {
		t.Fatalf("parseQuery = %v, %v", ps, err)
	}
}

func TestParseQuery(t *testing.T) {
	ps, err := parseQuery("a=1&&b&c=x=y&%41%42=%7e+%20&=z&", 10)
	if err != nil {
		t.Fatal(err)
	}
	want := []param{{"a", "1"}, {"b", ""}, {"c", "x=y"}, {"AB", "~  "}, {"", "z"}}
	if fmt.Sprint(ps) != fmt.Sprint(want) {
		t.Fatalf("got %q want %q", ps, want)
	}
	for _, bad := range []string{"a=%", "a=%4", "a=%g0", "%zz=1", "a=%%41"} {
		if _, err := parseQuery(bad, 10); err == nil {
			t.Errorf("parseQuery(%q): no error", bad)
		}
	}
	if _, err := parseQuery("a&b&c", 2); err == nil {
		t.Error("param limit not enforced")
	}
}

func TestAnnounceFields(t *testing.T) {
	tr := &fakeTracker{}
	f := newFrontend(t, tr, Config{})
	q := announceQuery(ih(7), "event=started&numwant=12&key=abc&compact=1&supportcrypto=1")
	decodeDict(t, get(f, "/announce", q, "127.0.0.1:1234"))
	got := tr.lastAnnounce(t)
	want := AnnounceRequest{
		InfoHash: ih(7), PeerID: pid('P'), IP: netip.MustParseAddr("127.0.0.1"),
		RemoteIP: netip.MustParseAddr("127.0.0.1"), Port: 6881, Uploaded: 1, Downloaded: 2,
		Left: 3, Event: EventStarted, NumWant: 12, Compact: true,
	}
	if got != want {
		t.Fatalf("got  %+v\nwant %+v", got, want)
	}

	events := map[string]Event{
		"": EventNone, "event=": EventNone, "event=empty": EventNone, "event=paused": EventNone,
		"event=started": EventStarted, "event=completed": EventCompleted, "event=stopped": EventStopped,
	}
	for extra, ev := range events {
		decodeDict(t, get(f, "/announce", announceQuery(ih(1), extra), "127.0.0.1:1"))
		if got := tr.lastAnnounce(t).Event; got != ev {
			t.Errorf("%q: event %v, want %v", extra, got, ev)
		}
	}
	// Port 0 is allowed only when stopping.
	q = strings.Replace(announceQuery(ih(1), "event=stopped"), "port=6881", "port=0", 1)
	if r, ok := decodeDict(t, get(f, "/announce", q, "127.0.0.1:1"))["failure reason"]; ok {
		t.Errorf("stopped with port 0: %v", r)
	}
	// Uploaded and downloaded may be omitted.
	p := pid('P')
	h2 := ih(2)
	q = "info_hash=" + escapeAll(string(h2[:])) + "&peer_id=" + escapeAll(string(p[:])) + "&port=1&left=18446744073709551615"
	decodeDict(t, get(f, "/announce", q, "127.0.0.1:1"))
	if got := tr.lastAnnounce(t); got.Left != 1<<64-1 || got.Uploaded != 0 || got.Seeder() {
		t.Errorf("got %+v", got)
	}
}

func TestAnnounceIP(t *testing.T) {
	cases := []struct {
		remote, ipParam string
		ignore          bool
		wantIP          string
		wantRemote      string
	}{
		{"1.2.3.4:5", "", false, "1.2.3.4", "1.2.3.4"},
		{"[2001:db8::7]:5", "", false, "2001:db8::7", "2001:db8::7"},
		{"[::ffff:1.2.3.4]:5", "", false, "1.2.3.4", "1.2.3.4"},
		{"[fe80::1%eth0]:5", "", false, "fe80::1", "fe80::1"},
		{"127.0.0.1:5", "10.1.2.3", false, "10.1.2.3", "127.0.0.1"},
		{"127.0.0.1:5", "2001:db8::9", false, "2001:db8::9", "127.0.0.1"},
		{"127.0.0.1:5", "%5B2001:db8::9%5D", false, "2001:db8::9", "127.0.0.1"},
		{"127.0.0.1:5", "::ffff:10.1.2.3", false, "10.1.2.3", "127.0.0.1"},
		{"[::1]:5", "10.1.2.3", false, "10.1.2.3", "::1"},
		{"127.0.0.1:5", "example.com", false, "127.0.0.1", "127.0.0.1"}, // names ignored
		{"127.0.0.1:5", "0.0.0.0", false, "127.0.0.1", "127.0.0.1"},
		{"127.0.0.1:5", "224.0.0.1", false, "127.0.0.1", "127.0.0.1"},
		{"127.0.0.1:5", "", false, "127.0.0.1", "127.0.0.1"},
		{"127.0.0.1:5", "10.1.2.3", true, "127.0.0.1", "127.0.0.1"},
		{"not-an-addr", "10.1.2.3", false, "10.1.2.3", "invalid IP"},
	}
	for _, c := range cases {
		tr := &fakeTracker{}
		f := newFrontend(t, tr, Config{IgnoreIPParam: c.ignore})
		extra := ""
		if c.ipParam != "" {
			extra = "ip=" + c.ipParam
		}
		d := decodeDict(t, get(f, "/announce", announceQuery(ih(1), extra), c.remote))
		if r, ok := d["failure reason"]; ok {
			t.Errorf("%+v: failure %q", c, r)
			continue
		}
		got := tr.lastAnnounce(t)
		if got.IP.String() != c.wantIP || got.RemoteIP.String() != c.wantRemote {
			t.Errorf("%+v: IP %v RemoteIP %v", c, got.IP, got.RemoteIP)
		}
	}
	// No usable address at all.
	f := newFrontend(t, &fakeTracker{}, Config{})
	if r := failureReason(t, get(f, "/announce", announceQuery(ih(1), "ip=nonsense"), "@")); !strings.Contains(r, "address") {
		t.Errorf("got %q", r)
	}
}

func TestAnnounceMalformed(t *testing.T) {
	tr := &fakeTracker{}
	f := newFrontend(t, tr, Config{MaxQueryLength: 600})
	p := pid('P')
	peer := "&peer_id=" + escapeAll(string(p[:]))
	h := ih(0)
	hash := "info_hash=" + escapeAll(string(h[:]))
	rest := "&port=1&left=0"
	cases := map[string]string{
		"missing info_hash": strings.TrimPrefix(peer, "&") + rest,
		"short info_hash":   "info_hash=" + escapeAll(string(h[:19])) + peer + rest,
		"long info_hash":    "info_hash=" + escapeAll(string(h[:])) + "%00" + peer + rest,
		"empty info_hash":   "info_hash=" + peer + rest,
		"missing peer_id":   hash + rest,
		"short peer_id":     hash + "&peer_id=abc" + rest,
		"missing port":      hash + peer + "&left=0",
		"bad port":          hash + peer + "&port=65536&left=0",
		"negative port":     hash + peer + "&port=-1&left=0",
		"zero port":         hash + peer + "&port=0&left=0",
		"missing left":      hash + peer + "&port=1",
		"negative left":     hash + peer + "&port=1&left=-1",
		"bad uploaded":      hash + peer + rest + "&uploaded=x",
		"bad downloaded":    hash + peer + rest + "&downloaded=1e3",
		"bad event":         hash + peer + rest + "&event=bogus",
		"bad numwant":       hash + peer + rest + "&numwant=ten",
		"duplicate hash":    hash + "&" + hash + peer + rest,
		"duplicate port":    hash + peer + rest + "&port=2",
		"bad escape":        hash + peer + rest + "&x=%G1",
		"truncated escape":  hash + peer + rest + "&x=%",
		"too long":          hash + peer + rest + "&pad=" + strings.Repeat("x", 600),
		"too many params":   hash + peer + rest + strings.Repeat("&a", maxQueryParams),
		"empty query":       "",
		"garbage":           "\x00\xff&&==&%%",
	}
	for name, q := range cases {
		w := get(f, "/announce", q, "127.0.0.1:1")
		if r := failureReason(t, w); r == "" {
			t.Errorf("%s: empty failure reason", name)
		}
	}
	if n := tr.numAnnounces(); n != 0 {
		t.Errorf("tracker called %d times for malformed requests", n)
	}
}

func TestNumWant(t *testing.T) {
	tr := &fakeTracker{}
	f := newFrontend(t, tr, Config{})
	cases := map[string]int{
		"":                              50,
		"numwant=0":                     0,
		"numwant=1":                     1,
		"numwant=200":                   200,
		"numwant=201":                   200,
		"numwant=99999999999999999999":  200,
		"numwant=-1":                    50,
		"numwant=-99999999999999999999": 50,
	}
	for extra, want := range cases {
		decodeDict(t, get(f, "/announce", announceQuery(ih(1), extra), "127.0.0.1:1"))
		if got := tr.lastAnnounce(t).NumWant; got != want {
			t.Errorf("%q: NumWant %d, want %d", extra, got, want)
		}
	}
	f = newFrontend(t, tr, Config{DefaultNumWant: 5, MaxNumWant: 10})
	decodeDict(t, get(f, "/announce", announceQuery(ih(1), "numwant=11"), "127.0.0.1:1"))
	if got := tr.lastAnnounce(t).NumWant; got != 10 {
		t.Errorf("configured cap: %d", got)
	}
}

func testPeers() []Peer {
	return []Peer{
		{IP: v4a, Port: 0x1ae1, ID: pid('a')},
		{IP: v6a, Port: 80, ID: pid('b')},
		{IP: netip.Addr{}, Port: 1, ID: pid('x')},                                    // invalid: skipped
		{IP: v4b, Port: 0, ID: pid('y')},                                             // port 0: skipped
		{IP: netip.MustParseAddr("0.0.0.0"), Port: 9, ID: pid('z')},                  // unspecified: skipped
		{IP: netip.MustParseAddr("::ffff:192.168.1.200"), Port: 65535, ID: pid('c')}, // mapped → v4
		{IP: v6b, Port: 1, ID: pid('d')},
	}
}

func TestCompactResponse(t *testing.T) {
	tr := &fakeTracker{resp: AnnounceResponse{
		Interval: 10 * time.Minute, MinInterval: 90 * time.Second, Complete: 3, Incomplete: 4,
		Peers: testPeers(),
	}}
	f := newFrontend(t, tr, Config{})
	for _, extra := range []string{"", "compact=1"} {
		d := decodeDict(t, get(f, "/announce", announceQuery(ih(1), extra), "127.0.0.1:1"))
		wantPeers := "\x0a\x00\x00\x01\x1a\xe1" + "\xc0\xa8\x01\xc8\xff\xff"
		wantPeers6 := "\x20\x01\x0d\xb8" + strings.Repeat("\x00", 11) + "\x01\x00\x50" +
			"\xfe\x80" + strings.Repeat("\x00", 12) + "\x12\x34\x00\x01"
		if d["peers"] != wantPeers {
			t.Errorf("peers %q, want %q", d["peers"], wantPeers)
		}
		if d["peers6"] != wantPeers6 {
			t.Errorf("peers6 %q, want %q", d["peers6"], wantPeers6)
		}
		for k, want := range map[string]int64{"interval": 600, "min interval": 90, "complete": 3, "incomplete": 4} {
			if d[k] != want {
				t.Errorf("%s = %v, want %d", k, d[k], want)
			}
		}
		if len(d) != 6 {
			t.Errorf("unexpected keys: %v", d)
		}
	}

	// numwant truncates; with no IPv6 peers left, peers6 is absent.
	d := decodeDict(t, get(f, "/announce", announceQuery(ih(1), "numwant=1"), "127.0.0.1:1"))
	if d["peers"] != "\x0a\x00\x00\x01\x1a\xe1" || d["peers6"] != nil {
		t.Errorf("numwant=1: %q", d)
	}
	d = decodeDict(t, get(f, "/announce", announceQuery(ih(1), "numwant=0"), "127.0.0.1:1"))
	if d["peers"] != "" {
		t.Errorf("numwant=0: %q", d)
	}
}

func TestNonCompactResponse(t *testing.T) {
	tr := &fakeTracker{resp: AnnounceResponse{Peers: testPeers(), WarningMessage: "careful", Complete: -5}}
	f := newFrontend(t, tr, Config{Interval: time.Hour, MinInterval: time.Minute})
	d := decodeDict(t, get(f, "/announce", announceQuery(ih(1), "compact=0"), "127.0.0.1:1"))
	peers, ok := d["peers"].([]any)
	if !ok {
		t.Fatalf("peers is %T", d["peers"])
	}
	want := []map[string]any{
		{"ip": "10.0.0.1", "port": int64(0x1ae1), "peer id": s20(pid('a'))},
		{"ip": "2001:db8::1", "port": int64(80), "peer id": s20(pid('b'))},
		{"ip": "192.168.1.200", "port": int64(65535), "peer id": s20(pid('c'))},
		{"ip": "fe80::1234", "port": int64(1), "peer id": s20(pid('d'))},
	}
	if fmt.Sprint(peers) != fmt.Sprint(want) {
		t.Errorf("peers\n got %q\nwant %q", peers, want)
	}
	if d["interval"] != int64(3600) || d["min interval"] != int64(60) || d["complete"] != int64(0) ||
		d["warning message"] != "careful" || d["peers6"] != nil {
		t.Errorf("dict %q", d)
	}

	d = decodeDict(t, get(f, "/announce", announceQuery(ih(1), "compact=0&no_peer_id=1&numwant=2"), "127.0.0.1:1"))
	want = []map[string]any{
		{"ip": "10.0.0.1", "port": int64(0x1ae1)},
		{"ip": "2001:db8::1", "port": int64(80)},
	}
	if fmt.Sprint(d["peers"]) != fmt.Sprint(want) {
		t.Errorf("no_peer_id peers\n got %q\nwant %q", d["peers"], want)
	}
}

func TestTrackerErrors(t *testing.T) {
	cases := []struct {
		err  error
		want string
	}{
		{ErrUnknownInfoHash, "unregistered torrent"},
		{fmt.Errorf("lookup: %w", ErrUnavailable), "tracker temporarily unavailable"},
		{ClientError("torrent is private"), "torrent is private"},
		{context.DeadlineExceeded, "tracker temporarily unavailable"},
		{errors.New("dht: secret internal detail"), "internal tracker error"},
	}
	for _, c := range cases {
		tr := &fakeTracker{err: c.err, scrapeErr: c.err}
		f := newFrontend(t, tr, Config{})
		if got := failureReason(t, get(f, "/announce", announceQuery(ih(1), ""), "127.0.0.1:1")); got != c.want {
			t.Errorf("announce %v: %q, want %q", c.err, got, c.want)
		}
		h := ih(1)
		if got := failureReason(t, get(f, "/scrape", "info_hash="+escapeAll(string(h[:])), "127.0.0.1:1")); got != c.want {
			t.Errorf("scrape %v: %q, want %q", c.err, got, c.want)
		}
	}
}

func TestAnnounceTimeout(t *testing.T) {
	tr := &fakeTracker{block: make(chan struct{})} // never released
	f := newFrontend(t, tr, Config{RequestTimeout: time.Millisecond})
	if got := failureReason(t, get(f, "/announce", announceQuery(ih(1), ""), "127.0.0.1:1")); got != "tracker temporarily unavailable" {
		t.Errorf("got %q", got)
	}
}

func TestScrape(t *testing.T) {
	tr := &fakeTracker{}
	f := newFrontend(t, tr, Config{})
	a, b := ih(1), ih(200)
	q := "info_hash=" + escapeAll(string(a[:])) + "&info_hash=" + url.QueryEscape(string(b[:])) +
		"&info_hash=" + escapeAll(string(a[:])) + "&other=x"
	d := decodeDict(t, get(f, "/scrape", q, "127.0.0.1:1"))
	files, ok := d["files"].(map[string]any)
	if !ok || len(d) != 1 || len(files) != 2 {
		t.Fatalf("got %q", d)
	}
	for _, h := range []InfoHash{a, b} {
		want := fmt.Sprint(map[string]any{"complete": int64(h[0]), "incomplete": int64(h[1]), "downloaded": int64(h[2])})
		if got := fmt.Sprint(files[string(h[:])]); got != want {
			t.Errorf("%x: %s, want %s", h, got, want)
		}
	}
	if fmt.Sprint(tr.scrapes) != fmt.Sprint([][]InfoHash{{a, b}}) {
		t.Errorf("tracker saw %x (duplicates must be removed)", tr.scrapes)
	}

	many := make([]string, 0, 75)
	for i := range 75 {
		h := ih(byte(i))
		many = append(many, "info_hash="+escapeAll(string(h[:])))
	}
	bad := map[string]string{
		"none":     "",
		"no hash":  "foo=bar",
		"short":    "info_hash=" + escapeAll(string(a[:10])),
		"long":     "info_hash=" + escapeAll(string(a[:])) + "x",
		"too many": strings.Join(many, "&"),
		"escape":   "info_hash=%",
	}
	for name, q := range bad {
		if r := failureReason(t, get(f, "/scrape", q, "127.0.0.1:1")); r == "" {
			t.Errorf("%s: empty reason", name)
		}
	}
	// 74 distinct hashes is the limit and works.
	d = decodeDict(t, get(f, "/scrape", strings.Join(many[:74], "&"), "127.0.0.1:1"))
	if files, _ := d["files"].(map[string]any); len(files) != 74 {
		t.Errorf("74 hashes: %d files", len(files))
	}

	// A Tracker returning the wrong number of stats is an internal error.
	tr2 := &fakeTracker{stats: func([]InfoHash) []ScrapeStats { return nil }}
	f2 := newFrontend(t, tr2, Config{})
	if r := failureReason(t, get(f2, "/scrape", "info_hash="+escapeAll(string(a[:])), "127.0.0.1:1")); r != internalErrorText {
		t.Errorf("got %q", r)
	}
}

func TestRouting(t *testing.T) {
	f := newFrontend(t, &fakeTracker{}, Config{})
	if w := get(f, "/nope", "", "127.0.0.1:1"); w.Code != http.StatusNotFound {
		t.Errorf("/nope: %d", w.Code)
	}
	r := &http.Request{Method: http.MethodPost, URL: &url.URL{Path: "/announce"}, Header: http.Header{}}
	w := httptest.NewRecorder()
	f.ServeHTTP(w, r)
	if w.Code != http.StatusMethodNotAllowed {
		t.Errorf("POST: %d", w.Code)
	}
	w2 := get(f, "/announce", announceQuery(ih(1), ""), "127.0.0.1:1")
	if ct := w2.Header().Get("Content-Type"); ct != "text/plain" {
		t.Errorf("content type %q", ct)
	}
}

func TestNewValidation(t *testing.T) {
	if _, err := New(nil, Config{}); err == nil {
		t.Error("nil tracker accepted")
	}
	bad := []Config{
		{DefaultNumWant: 300},
		{MaxNumWant: -1},
		{MaxScrapeInfoHashes: 75},
		{Interval: time.Millisecond},
		{RequestTimeout: -1},
		{UDPConnectionIDTTL: time.Nanosecond},
	}
	for _, c := range bad {
		if _, err := New(&fakeTracker{}, c); err == nil {
			t.Errorf("%+v accepted", c)
		}
	}
	f := newFrontend(t, &fakeTracker{}, Config{})
	c := f.Config()
	if c.Interval != 30*time.Minute || c.MaxNumWant != 200 || c.DefaultNumWant != 50 || c.UDPSecret != nil {
		t.Errorf("defaults: %+v", c)
	}
}
