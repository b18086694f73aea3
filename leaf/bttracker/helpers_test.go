package bttracker

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/supertracker/supertracker/leaf/bttracker/bencode"
)

// fakeTracker records calls and answers with canned values.
type fakeTracker struct {
	mu        sync.Mutex
	announces []AnnounceRequest
	scrapes   [][]InfoHash
	resp      AnnounceResponse
	err       error
	scrapeErr error
	// stats computes the scrape answer; default: Complete = first byte of
	// the infohash, Incomplete = second, Downloaded = third.
	stats func([]InfoHash) []ScrapeStats
	// block, if set, makes Announce wait for it to close or ctx to end;
	// entered receives once per blocked call.
	block   chan struct{}
	entered chan struct{}
	// noRecord stops the call log from growing (fuzzing).
	noRecord bool
}

func (t *fakeTracker) Announce(ctx context.Context, req AnnounceRequest) (AnnounceResponse, error) {
	t.mu.Lock()
	if !t.noRecord {
		t.announces = append(t.announces, req)
	}
	resp, err, block, entered := t.resp, t.err, t.block, t.entered
	t.mu.Unlock()
	if block != nil {
		if entered != nil {
			entered <- struct{}{}
		}
		select {
		case <-block:
		case <-ctx.Done():
			return AnnounceResponse{}, ctx.Err()
		}
	}
	return resp, err
}

func (t *fakeTracker) Scrape(ctx context.Context, hs []InfoHash) ([]ScrapeStats, error) {
	t.mu.Lock()
	if !t.noRecord {
		t.scrapes = append(t.scrapes, append([]InfoHash(nil), hs...))
	}
	stats, err := t.stats, t.scrapeErr
	t.mu.Unlock()
	if err != nil {
		return nil, err
	}
	if stats != nil {
		return stats(hs), nil
	}
	out := make([]ScrapeStats, len(hs))
	for i, h := range hs {
		out[i] = ScrapeStats{Complete: int(h[0]), Incomplete: int(h[1]), Downloaded: int(h[2])}
	}
	return out, nil
}

func (t *fakeTracker) lastAnnounce(tb testing.TB) AnnounceRequest {
	tb.Helper()
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.announces) == 0 {
		tb.Fatal("tracker saw no announce")
	}
	return t.announces[len(t.announces)-1]
}

func (t *fakeTracker) numAnnounces() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.announces)
}

// fakeClock is a settable clock.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{t: time.Date(2026, 1, 2, 3, 4, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func newFrontend(tb testing.TB, tr Tracker, cfg Config) *Frontend {
	tb.Helper()
	f, err := New(tr, cfg)
	if err != nil {
		tb.Fatal(err)
	}
	return f
}

// get runs one HTTP request through f without a network.
func get(f *Frontend, path, rawQuery, remote string) *httptest.ResponseRecorder {
	r := &http.Request{
		Method:     http.MethodGet,
		URL:        &url.URL{Path: path, RawQuery: rawQuery},
		RemoteAddr: remote,
		Header:     http.Header{},
	}
	r = r.WithContext(context.Background())
	w := httptest.NewRecorder()
	f.ServeHTTP(w, r)
	return w
}

// decodeDict decodes a bencoded HTTP tracker response.
func decodeDict(tb testing.TB, w *httptest.ResponseRecorder) map[string]any {
	tb.Helper()
	if w.Code != http.StatusOK {
		tb.Fatalf("status %d, want 200", w.Code)
	}
	v, err := bencode.Decode(w.Body.Bytes())
	if err != nil {
		tb.Fatalf("response %q: %v", w.Body.Bytes(), err)
	}
	d, ok := v.(map[string]any)
	if !ok {
		tb.Fatalf("response %q is not a dictionary", w.Body.Bytes())
	}
	return d
}

func failureReason(tb testing.TB, w *httptest.ResponseRecorder) string {
	tb.Helper()
	d := decodeDict(tb, w)
	r, ok := d["failure reason"].(string)
	if !ok {
		tb.Fatalf("no failure reason in %q", w.Body.Bytes())
	}
	if len(d) != 1 {
		tb.Errorf("failure response has extra keys: %q", w.Body.Bytes())
	}
	return r
}

// escapeAll percent-encodes every byte of s.
func escapeAll(s string) string {
	const hexd = "0123456789ABCDEF"
	b := make([]byte, 0, 3*len(s))
	for i := 0; i < len(s); i++ {
		b = append(b, '%', hexd[s[i]>>4], hexd[s[i]&15])
	}
	return string(b)
}

func ih(b byte) InfoHash {
	var h InfoHash
	for i := range h {
		h[i] = b + byte(i)
	}
	return h
}

func pid(b byte) PeerID {
	var p PeerID
	for i := range p {
		p[i] = b
	}
	return p
}

// announceQuery builds a valid announce query plus extra raw pairs.
func announceQuery(h InfoHash, extra string) string {
	p := pid('P')
	q := "info_hash=" + escapeAll(string(h[:])) + "&peer_id=" + escapeAll(string(p[:])) +
		"&port=6881&uploaded=1&downloaded=2&left=3"
	if extra != "" {
		q += "&" + extra
	}
	return q
}

var (
	v4a = netip.MustParseAddr("10.0.0.1")
	v4b = netip.MustParseAddr("192.168.1.200")
	v6a = netip.MustParseAddr("2001:db8::1")
	v6b = netip.MustParseAddr("fe80::1234")
)

func s20[T ~[20]byte](a T) string { return string(a[:]) }
