package httpapi_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/supertracker/supertracker/protocol/httpapi"
	"github.com/supertracker/supertracker/testnet/inproc"
)

// attack is one request a web page (or a DNS-rebinding name) can make a
// browser send to a local API.
type attack struct {
	name, method, path, body string
	header                   map[string]string
	host                     string // Host header; "" keeps the server's
	want                     int
}

func announceBody(c cid.Cid) string { return `{"cids":["` + c.String() + `"]}` }

func attacks(c cid.Cid) []attack {
	body := announceBody(c)
	return []attack{
		{"text/plain cross-origin POST (a form or a no-cors fetch)", "POST", httpapi.PathAnnounce, body,
			map[string]string{"Content-Type": "text/plain", "Origin": "http://evil.example", "Sec-Fetch-Site": "cross-site"}, "", 403},
		{"text/plain POST without browser markers", "POST", httpapi.PathAnnounce, body,
			map[string]string{"Content-Type": "text/plain"}, "", 415},
		{"form POST", "POST", httpapi.PathAnnounce, "cids=" + c.String(),
			map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, "", 415},
		{"JSON POST from another origin", "POST", httpapi.PathAnnounce, body,
			map[string]string{"Content-Type": "application/json", "Origin": "http://evil.example"}, "", 403},
		{"JSON POST from another port of localhost", "POST", httpapi.PathAnnounce, body,
			map[string]string{"Content-Type": "application/json", "Sec-Fetch-Site": "same-site"}, "", 403},
		{"JSON POST with Origin null (sandboxed frame)", "POST", httpapi.PathAnnounce, body,
			map[string]string{"Content-Type": "application/json", "Origin": "null"}, "", 403},
		{"DNS rebinding: JSON POST with a foreign Host", "POST", httpapi.PathAnnounce, body,
			map[string]string{"Content-Type": "application/json"}, "evil.example:5001", 403},
		{"DNS rebinding: withdraw with a foreign Host", "POST", httpapi.PathWithdraw, body,
			map[string]string{"Content-Type": "application/json"}, "rebind.evil.example", 403},
		{"cross-origin withdraw", "POST", httpapi.PathWithdraw, body,
			map[string]string{"Content-Type": "application/json", "Origin": "https://evil.example"}, "", 403},
		{"DNS rebinding: read the status", "GET", httpapi.PathStatus, "", nil, "evil.example", 403},
		{"cross-site fetch of a lookup", "GET", httpapi.PathLookup + "?cid=" + c.String(), "",
			map[string]string{"Origin": "http://evil.example", "Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "cors"}, "", 403},
		{"cross-site <img> of the status", "GET", httpapi.PathStatus, "",
			map[string]string{"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "no-cors"}, "", 403},
	}
}

func send(t *testing.T, base string, a attack, token string) *http.Response {
	t.Helper()
	var body *strings.Reader
	if a.body != "" {
		body = strings.NewReader(a.body)
	} else {
		body = strings.NewReader("")
	}
	req, err := http.NewRequestWithContext(t.Context(), a.method, base+a.path, body)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range a.header {
		req.Header.Set(k, v)
	}
	if a.host != "" {
		req.Host = a.host
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp
}

// Acceptance (issue 14, 5): cross-origin and foreign-Host requests to a
// real leaf's API change nothing: every one is refused, and the leaf's
// announced set and the overlay stay as they were; the same write sent as
// its own CLI sends it succeeds.
func TestGuardCrossOriginChangesNothing(t *testing.T) {
	o := startOverlay(t)
	obj := inproc.CID(t, "csrf-target")
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	for _, a := range attacks(obj) {
		resp := send(t, o.api, a, "")
		if resp.StatusCode != a.want {
			t.Errorf("%s: %d, want %d", a.name, resp.StatusCode, a.want)
		}
		if resp.Header.Get("Access-Control-Allow-Origin") != "" {
			t.Errorf("%s: CORS granted on a private path", a.name)
		}
	}
	if got := o.b.Objects(); len(got) != 0 {
		t.Fatalf("after the attacks leaf B announces %v, want nothing", got)
	}
	if holders, err := o.a.Lookup(ctx, obj, 0); err != nil || len(holders) != 0 {
		t.Fatalf("after the attacks the overlay has %v holders (err %v), want 0", holders, err)
	}

	// The legitimate client: JSON, no browser markers.
	if _, err := httpapi.NewClient(o.api).Announce(ctx, []string{obj.String()}); err != nil {
		t.Fatalf("announce through the client: %v", err)
	}
	holders, err := o.a.Lookup(ctx, obj, 0)
	if err != nil || len(holders) != 1 || holders[0].ID != o.b.Host().ID() {
		t.Fatalf("after the real announce: %v %v", holders, err)
	}
	// Cross-origin withdrawals of it change nothing either.
	for _, a := range attacks(obj) {
		if a.path == httpapi.PathWithdraw {
			send(t, o.api, a, "")
		}
	}
	if got := o.b.Objects(); len(got) != 1 || !got[0].Equals(obj) {
		t.Fatalf("after cross-origin withdrawals leaf B announces %v, want [%s]", got, obj)
	}
}

// countingBackend records every call that reaches it.
type countingBackend struct{ calls int }

func (b *countingBackend) Status(context.Context) (*httpapi.Status, error) {
	b.calls++
	return &httpapi.Status{Role: httpapi.RoleLeaf, PeerID: "12D3KooWGC6TvWhfapngX6wvJHMYvKpDMXPb3ZnCZ6dMoaMtimQ5"}, nil
}
func (b *countingBackend) Announce(context.Context, []cid.Cid) (*httpapi.AnnounceResponse, error) {
	b.calls++
	return &httpapi.AnnounceResponse{Accepted: 1}, nil
}
func (b *countingBackend) Withdraw(context.Context, []cid.Cid) (*httpapi.AnnounceResponse, error) {
	b.calls++
	return &httpapi.AnnounceResponse{}, nil
}
func (b *countingBackend) Objects(context.Context) ([]cid.Cid, error) { b.calls++; return nil, nil }
func (b *countingBackend) Lookup(context.Context, cid.Cid, int) ([]peer.AddrInfo, error) {
	b.calls++
	return nil, nil
}

// With a token (an API bound beyond loopback), nothing but the public
// reads gets through without it; Bearer and Basic both carry it; the
// delegated routing GETs stay CORS-readable with no token, and their
// preflight is answered.
func TestGuardToken(t *testing.T) {
	b := &countingBackend{}
	mux := httpapi.NewHandler(b)
	mux.HandleFunc("GET "+httpapi.PathHealth, func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(200) })
	srv := httptest.NewServer(httpapi.Guard(mux, httpapi.GuardConfig{ListenHost: "0.0.0.0", AllowedHosts: []string{"tracker.example.org"}, Token: "s3cret"}))
	defer srv.Close()
	c := inproc.CID(t, "token")
	json := map[string]string{"Content-Type": "application/json"}

	for _, tc := range []struct {
		name  string
		a     attack
		token string
		basic bool
		want  int
	}{
		{"announce without the token", attack{method: "POST", path: httpapi.PathAnnounce, body: announceBody(c), header: json}, "", false, 401},
		{"announce with a wrong token", attack{method: "POST", path: httpapi.PathAnnounce, body: announceBody(c), header: json}, "guess", false, 401},
		{"status without the token", attack{method: "GET", path: httpapi.PathStatus}, "", false, 401},
		{"status page without the token", attack{method: "GET", path: "/"}, "", false, 401},
		{"announce with the token, foreign Host", attack{method: "POST", path: httpapi.PathAnnounce, body: announceBody(c), header: json, host: "evil.example"}, "s3cret", false, 403},
		{"cross-origin announce with the token", attack{method: "POST", path: httpapi.PathAnnounce, body: announceBody(c),
			header: map[string]string{"Content-Type": "application/json", "Origin": "http://evil.example"}}, "s3cret", false, 403},
		{"announce with the token", attack{method: "POST", path: httpapi.PathAnnounce, body: announceBody(c), header: json}, "s3cret", false, 200},
		{"announce through an allowed proxy name", attack{method: "POST", path: httpapi.PathAnnounce, body: announceBody(c), header: json, host: "tracker.example.org"}, "s3cret", false, 200},
		{"status with Basic auth", attack{method: "GET", path: httpapi.PathStatus}, "s3cret", true, 200},
		{"healthz without the token", attack{method: "GET", path: httpapi.PathHealth}, "", false, 200},
		{"routing GET without the token", attack{method: "GET", path: httpapi.PathRoutingProviders + c.String(),
			header: map[string]string{"Origin": "https://helia.example", "Sec-Fetch-Site": "cross-site"}}, "", false, 200},
		{"routing preflight", attack{method: "OPTIONS", path: httpapi.PathRoutingProviders + c.String(),
			header: map[string]string{"Origin": "https://helia.example", "Access-Control-Request-Method": "GET"}}, "", false, 204},
		{"routing write is not public", attack{method: "PUT", path: httpapi.PathRoutingProviders, body: "{}", header: json}, "", false, 401},
	} {
		before := b.calls
		req, _ := http.NewRequest(tc.a.method, srv.URL+tc.a.path, strings.NewReader(tc.a.body))
		for k, v := range tc.a.header {
			req.Header.Set(k, v)
		}
		if tc.a.host != "" {
			req.Host = tc.a.host
		}
		switch {
		case tc.basic:
			req.SetBasicAuth("admin", tc.token)
		case tc.token != "":
			req.Header.Set("Authorization", "Bearer "+tc.token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.want {
			t.Errorf("%s: %d, want %d", tc.name, resp.StatusCode, tc.want)
		}
		if tc.want >= 400 && b.calls != before {
			t.Errorf("%s: refused, yet the backend was called", tc.name)
		}
		public := strings.HasPrefix(tc.a.path, "/routing/") && tc.a.method != "PUT"
		if got := resp.Header.Get("Access-Control-Allow-Origin"); (got == "*") != public {
			t.Errorf("%s: Access-Control-Allow-Origin %q", tc.name, got)
		}
		if tc.want == 401 && !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Basic") {
			t.Errorf("%s: 401 without a Basic challenge", tc.name)
		}
	}
	// The Go client carries the token.
	if _, err := httpapi.NewClient(srv.URL).WithToken("s3cret").Status(t.Context()); err != nil {
		t.Errorf("client with the token: %v", err)
	}
	if _, err := httpapi.NewClient(srv.URL).Status(t.Context()); err == nil {
		t.Error("client without the token: no error")
	}
}
