package attack

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"time"

	"github.com/ipfs/go-cid"

	"github.com/supertracker/supertracker/leaf/bttracker"
	"github.com/supertracker/supertracker/testnet/proc"
)

// Acceptance point 5 (built in another branch; measured here): a web page
// the leaf's user visits must not drive the leaf's local HTTP API (a
// cross-origin text/plain POST, a JSON one flagged cross-site, DNS
// rebinding: a foreign Host) nor its BitTorrent tracker (a cross-site GET
// of /announce, which an <img> tag can make). The attempts run against a
// real leaf process; what changed is read back from its /v1/objects.

// WebConfig configures the web-page attempts.
type WebConfig struct {
	Binary  string // the supertracker binary (required)
	WorkDir string // "": a temp dir, removed
}

// hardened reports whether the binary has the API guard (its flags).
func hardened(bin string) bool {
	out, _ := exec.Command(bin, "leaf", "--help").CombinedOutput()
	return bytes.Contains(out, []byte("api-allow-host"))
}

const evilOrigin = "http://evil.example"

// RunWeb runs the web-page attempts, or lists them as pending when the
// binary does not have the API and tracker hardening yet.
func RunWeb(ctx context.Context, cfg WebConfig) []Row {
	names := []string{
		"web page → leaf API: cross-origin POSTs (text/plain announce and withdraw, JSON with Sec-Fetch-Site: cross-site)",
		"web page → leaf API: DNS rebinding (foreign Host)",
		"web page → leaf's BitTorrent tracker: cross-site GET /announce",
	}
	if cfg.Binary == "" || !hardened(cfg.Binary) {
		var rows []Row
		for _, n := range names {
			rows = append(rows, Row{Point: 5, Attack: n, Pending: true, Bound: "0 changes",
				Outcome: "pending: the API guard and tracker hardening (issue 14 point 5, another branch) are not in this build"})
		}
		return rows
	}
	rows, err := runWeb(ctx, cfg, names)
	if err != nil {
		return []Row{Failed(5, "web page attempts", err)}
	}
	return rows
}

func runWeb(ctx context.Context, cfg WebConfig, names []string) ([]Row, error) {
	dir := cfg.WorkDir
	if dir == "" {
		d, err := os.MkdirTemp("", "supertracker-web")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(d)
		dir = d
	}
	snIP, leafIP := FreshIP(), FreshIP()
	sn, err := proc.Start(ctx, proc.Spec{Binary: cfg.Binary, LogPath: filepath.Join(dir, "supernode.log"),
		Args: []string{"supernode", "--local", "--listen", "/ip4/" + snIP + "/tcp/0", "--data", filepath.Join(dir, "sn"), "--log-level", "warn"}})
	if err != nil {
		return nil, err
	}
	defer sn.Stop(10 * time.Second)
	apiPort, err := freePort(leafIP)
	if err != nil {
		return nil, err
	}
	btPort, err := freePort(leafIP)
	if err != nil {
		return nil, err
	}
	api := net.JoinHostPort(leafIP, strconv.Itoa(apiPort))
	bt := net.JoinHostPort(leafIP, strconv.Itoa(btPort))
	lf, err := proc.Start(ctx, proc.Spec{Binary: cfg.Binary, API: api, LogPath: filepath.Join(dir, "leaf.log"),
		Args: []string{"leaf", "--listen", "/ip4/" + leafIP + "/tcp/0", "--data", filepath.Join(dir, "leaf"),
			"--supernode", sn.Addrs()[0], "--api", api, "--bt-listen", bt, "--log-level", "warn"}})
	if err != nil {
		return nil, err
	}
	defer lf.Stop(10 * time.Second)

	w := &webClient{api: api, bt: bt, hc: &http.Client{Timeout: 10 * time.Second}}
	held := NamedCID("web/held")
	if code, err := w.post("/v1/announce", []cid.Cid{held}, nil); err != nil || code != http.StatusOK {
		return nil, fmt.Errorf("control: the leaf's own client could not announce: %d %v", code, err)
	}
	// The attempts, each a request a web page can make.
	csrf := []struct {
		path string
		cid  cid.Cid
		hdr  map[string]string
	}{
		{"/v1/announce", NamedCID("web/csrf"), map[string]string{"Content-Type": "text/plain", "Origin": evilOrigin}},
		{"/v1/withdraw", held, map[string]string{"Content-Type": "text/plain", "Origin": evilOrigin}},
		{"/v1/announce", NamedCID("web/cross-site"), map[string]string{"Content-Type": "application/json", "Sec-Fetch-Site": "cross-site"}},
	}
	for _, a := range csrf {
		_, _ = w.post(a.path, []cid.Cid{a.cid}, a.hdr)
	}
	rebind := NamedCID("web/rebind")
	_, _ = w.post("/v1/announce", []cid.Cid{rebind}, map[string]string{"Content-Type": "application/json",
		"Host": "evil.example:" + strconv.Itoa(apiPort), "Origin": "http://evil.example:" + strconv.Itoa(apiPort)})
	ihImg, ihFetch, ihClient := infohash("web/img"), infohash("web/fetch"), infohash("web/client")
	_, _ = w.btAnnounce(ihImg, map[string]string{"Sec-Fetch-Site": "cross-site", "Referer": evilOrigin + "/"})
	_, _ = w.btAnnounce(ihFetch, map[string]string{"Origin": evilOrigin, "Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "no-cors"})
	// Control: a BitTorrent client's GET (no browser markers) is served and
	// announces; once it shows, anything the attempts announced would too.
	if code, err := w.btAnnounce(ihClient, nil); err != nil || code != http.StatusOK {
		return nil, fmt.Errorf("control: a BitTorrent client's announce: %d %v", code, err)
	}
	clientCID := bttracker.InfoHashToCID(ihClient)
	var objs []cid.Cid
	err = WaitFor(ctx, 10*time.Second, func() bool {
		objs, err = w.objects()
		return err == nil && slices.ContainsFunc(objs, clientCID.Equals)
	})
	if err != nil {
		return nil, fmt.Errorf("control: the client's torrent never showed in /v1/objects: %w", err)
	}
	has := func(c cid.Cid) bool { return slices.ContainsFunc(objs, c.Equals) }
	changedCSRF := boolInt(has(csrf[0].cid)) + boolInt(!has(held)) + boolInt(has(csrf[2].cid))
	changedTracker := boolInt(has(bttracker.InfoHashToCID(ihImg))) + boolInt(has(bttracker.InfoHashToCID(ihFetch)))
	return []Row{
		{Point: 5, Attack: names[0], Attempts: len(csrf), Unit: "requests", Successes: changedCSRF, Bound: "0 changes",
			Outcome: fmt.Sprintf("%d of %d changed the leaf's objects (its own client's JSON POST did)", changedCSRF, len(csrf)), Pass: changedCSRF == 0},
		{Point: 5, Attack: names[1], Attempts: 1, Unit: "requests", Successes: boolInt(has(rebind)), Bound: "0 changes",
			Outcome: fmt.Sprintf("%d of 1 changed the leaf's objects", boolInt(has(rebind))), Pass: !has(rebind)},
		{Point: 5, Attack: names[2], Attempts: 2, Unit: "requests", Successes: changedTracker, Bound: "0 changes",
			Outcome: fmt.Sprintf("%d of 2 announced a torrent (a client's GET did)", changedTracker), Pass: changedTracker == 0},
	}, nil
}

type webClient struct {
	api, bt string
	hc      *http.Client
}

func (w *webClient) post(path string, cids []cid.Cid, hdr map[string]string) (int, error) {
	strs := make([]string, len(cids))
	for i, c := range cids {
		strs[i] = c.String()
	}
	body, _ := json.Marshal(map[string][]string{"cids": strs})
	req, err := http.NewRequest(http.MethodPost, "http://"+w.api+path, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	for k, v := range hdr {
		if k == "Host" {
			req.Host = v
			continue
		}
		req.Header.Set(k, v)
	}
	resp, err := w.hc.Do(req)
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}

func (w *webClient) objects() ([]cid.Cid, error) {
	resp, err := w.hc.Get("http://" + w.api + "/v1/objects")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var doc struct {
		CIDs []string `json:"cids"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&doc); err != nil {
		return nil, err
	}
	var out []cid.Cid
	for _, s := range doc.CIDs {
		c, err := cid.Decode(s)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, nil
}

func (w *webClient) btAnnounce(ih bttracker.InfoHash, hdr map[string]string) (int, error) {
	q := url.Values{}
	q.Set("info_hash", string(ih[:]))
	q.Set("peer_id", "-XX0001-abcdefghijkl")
	q.Set("port", "6881")
	q.Set("left", "100")
	q.Set("event", "started")
	q.Set("compact", "1")
	req, err := http.NewRequest(http.MethodGet, "http://"+w.bt+"/announce?"+q.Encode(), nil)
	if err != nil {
		return 0, err
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := w.hc.Do(req)
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}

func infohash(name string) bttracker.InfoHash {
	c := NamedCID(name)
	var ih bttracker.InfoHash
	copy(ih[:], c.Hash()[2:])
	return ih
}
