package httpapi

import (
	"crypto/subtle"
	"encoding/json"
	"mime"
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// GuardConfig says who may use the API. The zero value suits an API bound
// to loopback: any local program, no web page.
type GuardConfig struct {
	// ListenHost is the host part of the address the API is bound to; a
	// request naming it in its Host header is accepted.
	ListenHost string
	// AllowedHosts are further host names accepted in the Host header (a
	// reverse proxy's name). IP literals, "localhost" and *.localhost are
	// always accepted.
	AllowedHosts []string
	// Token, when set, is required on every request but the public ones
	// (the delegated routing GETs and /healthz): "Authorization: Bearer
	// TOKEN", or HTTP Basic with TOKEN as the password (what a browser
	// prompts for on the status page). Set it whenever the API is bound
	// beyond loopback.
	Token string
}

// PathHealth is the health endpoint, open without a token so that
// orchestrators and `supertracker healthcheck` can probe it.
const PathHealth = "/healthz"

// Guard protects a node's API the way kubo's API and Transmission's RPC
// are protected against web pages and other machines:
//
//   - DNS rebinding: a Host header that is not an IP literal, localhost,
//     the bound host or an allowed name is refused (403);
//   - CSRF: a request from another origin (an Origin header other than the
//     API's own, or Sec-Fetch-Site cross-site or same-site) is refused
//     (403), except a top-level navigation GET (a link to the status
//     page); writes (any method but GET, HEAD, OPTIONS) must carry
//     Content-Type application/json (415), which no form or simple
//     cross-origin request can send;
//   - other machines: with a Token, every request but the public ones must
//     carry it (401).
//
// The delegated routing GETs under /routing/v1/ are public and read-only:
// they answer any origin with CORS headers (Access-Control-Allow-Origin:
// *), so Helia in a browser can use them, and need no token.
func Guard(next http.Handler, cfg GuardConfig) http.Handler {
	allowed := map[string]bool{}
	for _, h := range append([]string{cfg.ListenHost}, cfg.AllowedHosts...) {
		if h = strings.ToLower(strings.Trim(h, "[]")); h != "" {
			allowed[h] = true
		}
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !hostAllowed(r.Host, allowed) {
			refuse(w, http.StatusForbidden, "host "+r.Host+" not allowed: use the API's address (DNS rebinding protection)")
			return
		}
		if isPublic(r) {
			h := w.Header()
			h.Set("Access-Control-Allow-Origin", "*")
			h.Add("Vary", "Origin")
			if r.Method == http.MethodOptions {
				h.Set("Access-Control-Allow-Methods", "GET, HEAD, OPTIONS")
				h.Set("Access-Control-Allow-Headers", "Accept")
				h.Set("Access-Control-Max-Age", "86400")
				w.WriteHeader(http.StatusNoContent)
				return
			}
			next.ServeHTTP(w, r)
			return
		}
		if cfg.Token != "" && r.URL.Path != PathHealth && !tokenOK(r, cfg.Token) {
			w.Header().Set("WWW-Authenticate", `Basic realm="supertracker API", charset="UTF-8"`)
			refuse(w, http.StatusUnauthorized, "API token required (Authorization: Bearer TOKEN)")
			return
		}
		if crossSite(r) {
			refuse(w, http.StatusForbidden, "cross-origin request refused")
			return
		}
		if isWrite(r.Method) {
			mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
			if err != nil || mt != "application/json" {
				refuse(w, http.StatusUnsupportedMediaType, "writes need Content-Type: application/json")
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// isPublic: the delegated routing reads, and their CORS preflights.
func isPublic(r *http.Request) bool {
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return strings.HasPrefix(r.URL.Path, PathRoutingProviders) || strings.HasPrefix(r.URL.Path, PathRoutingPeers)
	}
	return false
}

func isWrite(method string) bool {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return false
	}
	return true
}

// hostAllowed checks the Host header: IP literals (no name to rebind),
// localhost, or a configured name.
func hostAllowed(hostport string, allowed map[string]bool) bool {
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	host = strings.ToLower(strings.Trim(host, "[]"))
	if host == "" {
		return false // HTTP/1.1 requires Host; Go fills it for HTTP/1.0
	}
	if _, err := netip.ParseAddr(host); err == nil {
		return true
	}
	return host == "localhost" || strings.HasSuffix(host, ".localhost") || allowed[host]
}

// crossSite reports a browser's markers of a request made by another site:
// an Origin that is not the API's own, or Sec-Fetch-Site cross-site or
// same-site (another port on the same host is same-site). A top-level
// navigation GET (following a link) is let through: it cannot read the
// answer and GETs change nothing.
func crossSite(r *http.Request) bool {
	navigation := (r.Method == http.MethodGet || r.Method == http.MethodHead) && r.Header.Get("Sec-Fetch-Mode") == "navigate"
	switch r.Header.Get("Sec-Fetch-Site") {
	case "cross-site", "same-site":
		if !navigation {
			return true
		}
	}
	if o := r.Header.Get("Origin"); o != "" && !navigation {
		return o != "http://"+r.Host && o != "https://"+r.Host
	}
	return false
}

// tokenOK accepts "Bearer TOKEN" or Basic auth with TOKEN as the password,
// compared in constant time.
func tokenOK(r *http.Request, token string) bool {
	got := ""
	if a := r.Header.Get("Authorization"); len(a) > 7 && strings.EqualFold(a[:7], "bearer ") {
		got = strings.TrimSpace(a[7:])
	} else if _, pw, ok := r.BasicAuth(); ok {
		got = pw
	}
	return subtle.ConstantTimeCompare([]byte(got), []byte(token)) == 1
}

func refuse(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(Error{Error: msg})
}
