package httpapi_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ipfs/boxo/routing/http/client"
	"github.com/ipfs/boxo/routing/http/types"
	"github.com/ipfs/boxo/routing/http/types/iter"
	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/supertracker/supertracker/leaf"
	"github.com/supertracker/supertracker/protocol/httpapi"
	"github.com/supertracker/supertracker/testnet/inproc"
)

// overlay is two supernodes and two leaves, each leaf attached to its own
// supernode only, so a lookup through leaf B crosses the overlay to find
// what leaf A announced.
type overlay struct {
	a, b *leaf.Agent
	api  string // leaf B's guarded API: http://127.0.0.1:PORT
}

func startOverlay(t *testing.T) *overlay {
	t.Helper()
	sns := inproc.StartSupernodes(t, 2, inproc.SupernodeConfig())
	start := func(i int) *leaf.Agent {
		c := inproc.LeafConfig([]peer.AddrInfo{sns[i].AddrInfo()})
		c.Backups = 0
		return inproc.StartLeaf(t, c)
	}
	o := &overlay{a: start(0), b: start(1)}
	if o.a.Primary() == o.b.Primary() {
		t.Fatal("both leaves on one supernode")
	}
	backend := &leaf.APIBackend{Agent: o.b, Started: time.Now()}
	srv := httptest.NewServer(httpapi.Guard(httpapi.NewHandler(backend), httpapi.GuardConfig{ListenHost: "127.0.0.1"}))
	t.Cleanup(srv.Close)
	o.api = srv.URL
	return o
}

// acceptJSON makes boxo's client ask for JSON only (it asks for NDJSON
// first by default).
type acceptJSON struct{}

func (acceptJSON) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Accept", "application/json")
	return http.DefaultTransport.RoundTrip(r)
}

// Acceptance (issue 16, 1): boxo's delegated routing client pointed at a
// leaf's API gets the announcing leaf, its ID and addresses, for its CID,
// in the JSON and in the streaming NDJSON form.
func TestDelegatedRoutingFindsAnnouncingLeaf(t *testing.T) {
	o := startOverlay(t)
	obj := inproc.CID(t, "delegated-routing")
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	if _, err := o.a.Announce(ctx, []cid.Cid{obj}); err != nil {
		t.Fatal(err)
	}
	want := o.a.Host().ID()
	wantAddrs := map[string]bool{}
	for _, a := range o.a.Host().Addrs() {
		wantAddrs[a.String()] = true
	}

	for _, form := range []struct {
		name, contentType string
		opts              []client.Option
	}{
		{"json", "application/json", []client.Option{client.WithHTTPClient(&http.Client{Transport: acceptJSON{}})}},
		{"ndjson", "application/x-ndjson", []client.Option{client.WithStreamResultsRequired()}},
	} {
		t.Run(form.name, func(t *testing.T) {
			c, err := client.New(o.api, form.opts...)
			if err != nil {
				t.Fatal(err)
			}
			it, err := c.FindProviders(ctx, obj)
			if err != nil {
				t.Fatal(err)
			}
			recs, err := iter.ReadAllResults(it)
			if err != nil {
				t.Fatal(err)
			}
			if len(recs) != 1 {
				t.Fatalf("%d provider records, want 1 (leaf A): %+v", len(recs), recs)
			}
			pr, ok := recs[0].(*types.PeerRecord)
			if !ok || pr.Schema != types.SchemaPeer || pr.ID == nil {
				t.Fatalf("record %#v is not a peer record with an ID", recs[0])
			}
			if *pr.ID != want {
				t.Fatalf("provider %s, want leaf A %s", pr.ID, want)
			}
			var got []string
			for _, a := range pr.Addrs {
				got = append(got, a.String())
				if !wantAddrs[a.String()] {
					t.Errorf("address %s is not one of leaf A's %v", a, wantAddrs)
				}
			}
			if len(got) == 0 {
				t.Fatal("no addresses for leaf A")
			}
			t.Logf("%s: provider %s at %v", form.name, pr.ID, got)

			// The same request by hand: media type, the spec's cache
			// headers, and CORS for browsers.
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, o.api+"/routing/v1/providers/"+obj.String(), nil)
			req.Header.Set("Accept", form.contentType)
			req.Header.Set("Origin", "https://helia.example")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			h := resp.Header
			if resp.StatusCode != 200 || !strings.HasPrefix(h.Get("Content-Type"), form.contentType) {
				t.Fatalf("GET: %d %q: %s", resp.StatusCode, h.Get("Content-Type"), body)
			}
			if cc := h.Get("Cache-Control"); !strings.Contains(cc, "public") || !strings.Contains(cc, "max-age=300") ||
				!strings.Contains(cc, "stale-while-revalidate=") || !strings.Contains(cc, "stale-if-error=") {
				t.Errorf("Cache-Control %q: want public, max-age=300 and the stale-* directives", cc)
			}
			if h.Get("Last-Modified") == "" || !slices.Contains(h.Values("Vary"), "Accept") {
				t.Errorf("Last-Modified %q, Vary %q", h.Get("Last-Modified"), h.Values("Vary"))
			}
			if got := h.Get("Access-Control-Allow-Origin"); got != "*" {
				t.Errorf("Access-Control-Allow-Origin %q, want *", got)
			}
			if !strings.Contains(string(body), want.String()) {
				t.Errorf("body does not name leaf A: %s", body)
			}
		})
	}

	// Nothing found: 200 with no providers, cached briefly (IPIP-0513).
	missing := inproc.CID(t, "never-announced")
	resp, err := http.Get(o.api + "/routing/v1/providers/" + missing.String())
	if err != nil {
		t.Fatal(err)
	}
	var pr struct{ Providers []json.RawMessage }
	err = json.NewDecoder(resp.Body).Decode(&pr)
	resp.Body.Close()
	if err != nil || resp.StatusCode != 200 || len(pr.Providers) != 0 {
		t.Fatalf("unknown CID: %d %v %v", resp.StatusCode, err, pr.Providers)
	}
	if cc := resp.Header.Get("Cache-Control"); !strings.Contains(cc, "max-age=15") {
		t.Errorf("empty answer Cache-Control %q, want max-age=15", cc)
	}

	// The leaf's own peer record.
	c, _ := client.New(o.api)
	it, err := c.FindPeers(ctx, o.b.Host().ID())
	if err != nil {
		t.Fatal(err)
	}
	peers, err := iter.ReadAllResults(it)
	if err != nil || len(peers) != 1 || *peers[0].ID != o.b.Host().ID() || len(peers[0].Addrs) == 0 {
		t.Fatalf("FindPeers(self): %v %+v", err, peers)
	}

	// A bad CID is the client's mistake.
	resp, err = http.Get(o.api + "/routing/v1/providers/not-a-cid")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("bad CID: %d, want 400", resp.StatusCode)
	}
	// Writes and IPNS are not served.
	for _, p := range []string{"/routing/v1/ipns/k51qzi5uqu5dlvj2baxnqndepeb86cbk3ng7n3i46uzyxzyqj2xjonzllnv0v8", "/routing/v1/dht/closest/peers/" + o.b.Host().ID().String()} {
		resp, err := http.Get(o.api + p)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotImplemented {
			t.Errorf("GET %s: %d, want 501", p, resp.StatusCode)
		}
	}
}
