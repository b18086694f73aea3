package main

import (
	"bytes"
	"crypto/sha1"
	"fmt"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/supertracker/supertracker/leaf/bttracker"
)

// btInfoHash is a test torrent's infohash.
func btInfoHash(name string) bttracker.InfoHash {
	return sha1.Sum([]byte("supertracker-bt-test-" + name))
}

// btAnnounce sends one BEP 3 announce to a tracker from a client on ip
// listening on port, with extra headers; it returns the HTTP status and
// body.
func btAnnounce(t *testing.T, tracker, ip string, port int, ih bttracker.InfoHash, left int, event string, header map[string]string) (int, string) {
	t.Helper()
	var id [20]byte
	copy(id[:], fmt.Sprintf("-ST0001-%s____________", ip))
	q := "info_hash=" + url.QueryEscape(string(ih[:])) + "&peer_id=" + url.QueryEscape(string(id[:])) +
		fmt.Sprintf("&port=%d&uploaded=0&downloaded=0&left=%d&compact=1", port, left)
	if event != "" {
		q += "&event=" + event
	}
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: 5 * time.Second}
	c := &http.Client{Transport: &http.Transport{DialContext: d.DialContext, DisableKeepAlives: true}, Timeout: 20 * time.Second}
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, "http://"+tracker+"/announce?"+q, nil)
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	b.ReadFrom(resp.Body)
	return resp.StatusCode, b.String()
}

// bridgeLeaf starts a supernode and a leaf with --bt-listen (plus extra
// leaf flags) on 127.0.60.base and base+1; it returns both and the
// tracker's HOST:PORT.
func bridgeLeaf(t *testing.T, base int, extra ...string) (sn, lf *opsProc, tracker string) {
	t.Helper()
	bin := binary(t)
	dir := t.TempDir()
	sn = newOpsProc(t, dir, "sn", "supernode", opsIP(base), "0", "--local")
	sn.start(t, bin)
	tracker = freeHostPort(t, opsIP(base+1))
	lf = newOpsProc(t, dir, "leaf", "leaf", opsIP(base+1), "0", append([]string{"--supernode", sn.addr(), "--bt-listen", tracker}, extra...)...)
	lf.start(t, bin)
	poll(t, 20*time.Second, "leaf /healthz 200", func() (bool, string) {
		code, body := httpGet(t, "http://"+lf.api+"/healthz")
		return code == http.StatusOK, body
	})
	return sn, lf, tracker
}

// Acceptance (issue 16, 3): the live /metrics of a bridging leaf and of a
// supernode hold the tracker's counters, and `promtool check metrics`
// (Debian package prometheus) finds nothing in either.
func TestMetricsPromtoolClean(t *testing.T) {
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		t.Skip("promtool not installed: `apt-get install prometheus` to run the metrics lint")
	}
	sn, lf, tracker := bridgeLeaf(t, 71)
	ih := btInfoHash("metrics")
	if code, body := btAnnounce(t, tracker, opsIP(72), 6881, ih, 100, "started", nil); code != 200 || strings.Contains(body, "failure") {
		t.Fatalf("announce: %d %q", code, body)
	}
	if code, _ := btAnnounce(t, tracker, opsIP(72), 6881, ih, 100, "", map[string]string{"Sec-Fetch-Site": "cross-site"}); code != 403 {
		t.Fatalf("cross-site announce: %d, want 403", code)
	}
	// A delegated routing lookup, so boxo's HTTP metrics have samples.
	if code, body := httpGet(t, "http://"+lf.api+"/routing/v1/providers/"+bttracker.InfoHashToCID(ih).String()); code != 200 {
		t.Fatalf("routing GET: %d %s", code, body)
	}
	// The leaf's peer record of its supernode, from what its host knows.
	if code, body := httpGet(t, "http://"+lf.api+"/routing/v1/peers/"+sn.peerID()); code != 200 || !strings.Contains(body, sn.peerID()) ||
		!strings.Contains(body, opsIP(71)) {
		t.Errorf("routing GET peers/<supernode> through the leaf: %d %s", code, body)
	}
	m := scrape(t, lf.api)
	for _, c := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"supertracker_bt_announces_total", []string{"protocol", "http", "result", "ok"}, 1},
		{"supertracker_bt_announces_total", []string{"protocol", "http", "result", "cross_site"}, 1},
		{"supertracker_bt_announces_total", []string{"protocol", "udp", "result", "ok"}, 0},
		{"supertracker_bt_scrapes_total", []string{"protocol", "http", "result", "ok"}, 0},
		{"supertracker_bt_announce_peers", nil, 1},
		{"supertracker_bt_announce_swarm_peers", nil, 1},
		{"supertracker_bt_clients", []string{"state", "leecher"}, 1},
		{"supertracker_bt_torrents", []string{"announced", "true"}, 1},
		{"supertracker_lookups_total", []string{"outcome", "ok"}, 1},
	} {
		if got := mustMetric(t, m, c.name, c.labels...); got != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
	if v, ok := metricValue(m, "supertracker_bt_overlay_lookups_total", "outcome", "not_found"); !ok || v < 1 {
		t.Errorf("bridge lookups (not found before its own record): %v %v", v, ok)
	}
	info := m["supertracker_info"].GetMetric()
	if len(info) != 1 {
		t.Fatalf("supertracker_info: %v", info)
	}
	for _, l := range info[0].GetLabel() {
		if (l.GetName() == "version" || l.GetName() == "commit") && l.GetValue() == "" {
			t.Errorf("supertracker_info %s is empty", l.GetName())
		}
	}
	for _, p := range []*opsProc{lf, sn} {
		_, body := httpGet(t, "http://"+p.api+"/metrics")
		cmd := exec.CommandContext(t.Context(), promtool, "check", "metrics")
		cmd.Stdin = strings.NewReader(body)
		out, err := cmd.CombinedOutput()
		if err != nil || len(bytes.TrimSpace(out)) > 0 {
			t.Errorf("promtool check metrics on the %s's /metrics (%d lines): %v\n%s", p.name, strings.Count(body, "\n"), err, out)
		} else {
			t.Logf("promtool check metrics: %s's /metrics, %d lines, no findings", p.name, strings.Count(body, "\n"))
		}
	}
}

// Acceptance (issue 16, 3): a bridging leaf's status page, rendered by
// headless Chromium, shows the tracker section: its URLs, the torrent's
// infohash with its clients, and the bridge's lookup listed by infohash.
func TestTrackerStatusPageInChromium(t *testing.T) {
	browser := chromiumPath()
	if browser == "" {
		t.Skip("chromium not installed: `apt-get install chromium` (Debian) to run the status page test")
	}
	_, lf, tracker := bridgeLeaf(t, 74)
	ih := btInfoHash("statuspage")
	for i, left := range []int{0, 100} {
		ip := opsIP(76 + i)
		if code, body := btAnnounce(t, tracker, ip, 6881+i, ih, left, "started", nil); code != 200 || strings.Contains(body, "failure") {
			t.Fatalf("announce from %s: %d %q", ip, code, body)
		}
	}
	url := "http://" + lf.api + "/"
	text := visibleText(runChromium(t, browser, "--dump-dom", url))
	for _, c := range []struct{ what, re string }{
		{"the section", `BitTorrent tracker Announce URLs:`},
		{"the HTTP tracker URL", regexp.QuoteMeta("http://" + tracker + "/announce")},
		{"the UDP tracker URL", regexp.QuoteMeta("udp://" + tracker + "/announce")},
		{"the torrent row: infohash, 1 seeder, 1 leecher, swarm, downloaded, last announce, in overlay", regexp.QuoteMeta(ih.String()) + ` 1 1 \d+ / \d+ 0 \d+s ago yes`},
		{"the bridge's lookup, by infohash", `\d\d:\d\d:\d\d BitTorrent torrent ` + regexp.QuoteMeta(ih.String())},
	} {
		if !regexp.MustCompile(c.re).MatchString(text) {
			t.Errorf("the page does not show %s (/%s/):\n%s", c.what, c.re, text)
		}
	}
	shotDir := os.Getenv("SUPERTRACKER_SCREENSHOT_DIR")
	if shotDir == "" {
		shotDir = t.TempDir()
	}
	shot := filepath.Join(shotDir, "statuspage-bridge.png")
	runChromium(t, browser, "--window-size=1200,1400", "--hide-scrollbars", "--screenshot="+shot, url)
	fi, err := os.Stat(shot)
	if err != nil || fi.Size() < 10_000 {
		t.Fatalf("screenshot %s: %v (%d bytes)", shot, err, sizeOf(fi))
	}
	t.Logf("status page with the tracker section: screenshot %s (%d bytes)", shot, fi.Size())
}

// A leaf serving BitTorrent stops within 2 s of SIGTERM when its
// supernodes are gone, even with a client's announce in flight and a
// torrent it would withdraw if it could.
func TestBridgeLeafStopsWithoutSupernodes(t *testing.T) {
	sn, lf, tracker := bridgeLeaf(t, 78)
	ih := btInfoHash("orphan")
	if code, body := btAnnounce(t, tracker, opsIP(79), 6881, ih, 100, "started", nil); code != 200 || strings.Contains(body, "failure") {
		t.Fatalf("announce: %d %q", code, body)
	}
	sn.p.Kill()
	<-sn.p.Done()
	poll(t, 30*time.Second, "the leaf to notice its supernode is gone", func() (bool, string) {
		code, body := httpGet(t, "http://"+lf.api+"/healthz")
		return code == http.StatusServiceUnavailable, body
	})
	// A client announcing now waits on the overlay: stop with it in flight.
	wrote := make(chan struct{})
	inflight := make(chan struct{})
	go func() {
		defer close(inflight)
		ih2 := btInfoHash("orphan-2")
		u := "http://" + tracker + "/announce?info_hash=" + url.QueryEscape(string(ih2[:])) +
			"&peer_id=-ST0001-inflight____&port=6882&uploaded=0&downloaded=0&left=1&event=started"
		ctx := httptrace.WithClientTrace(t.Context(), &httptrace.ClientTrace{WroteRequest: func(httptrace.WroteRequestInfo) { close(wrote) }})
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
		}
	}()
	select {
	case <-wrote:
	case <-inflight:
		t.Fatal("the in-flight announce finished before the leaf was stopped")
	}
	took := lf.stop(t, 10*time.Second)
	if took > 2*time.Second {
		t.Fatalf("the leaf took %s to stop without supernodes, want ≤ 2 s\n%s", took.Round(time.Millisecond), tail(lf.log))
	}
	if log := tail(lf.log); !strings.Contains(log, "torrents left to expire") {
		t.Errorf("the leaf did not skip the withdrawal it could not make:\n%s", log)
	}
	t.Logf("leaf with --bt-listen stopped %s after SIGTERM with its supernode gone, an announce in flight", took.Round(time.Millisecond))
	<-inflight
}
