package bttracker

import (
	"context"
	"errors"
	"net/http"
	"net/netip"
	"strconv"
	"strings"

	"github.com/supertracker/supertracker/leaf/bttracker/bencode"
)

// maxQueryParams bounds the number of key=value pairs in one query, on top of
// MaxQueryLength.
const maxQueryParams = 2*maxUDPScrape + 32

// ServeHTTP answers GET /announce (BEP 3, 7, 23) and GET /scrape (BEP 48).
// Every tracker-level problem, from a malformed query to a Tracker error, is
// answered with HTTP 200 and a bencoded "failure reason", as clients expect.
// Other paths get 404 and other methods 405.
func (f *Frontend) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var handle func(http.ResponseWriter, *http.Request)
	switch r.URL.Path {
	case "/announce":
		handle = f.serveAnnounce
	case "/scrape":
		handle = f.serveScrape
	default:
		http.NotFound(w, r)
		return
	}
	if r.Method != http.MethodGet {
		w.Header().Set("Allow", http.MethodGet)
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	if fromBrowser(r) {
		// A web page making the user's browser announce a torrent in the
		// user's name (a cross-site <img> or fetch): refused before
		// anything is parsed or stored.
		kind := KindAnnounce
		if r.URL.Path == "/scrape" {
			kind = KindScrape
		}
		f.observe(RequestInfo{Protocol: ProtocolHTTP, Kind: kind, Result: ResultCrossSite})
		w.Header().Set("Cache-Control", "no-store")
		http.Error(w, "requests from web pages are refused", http.StatusForbidden)
		return
	}
	handle(w, r)
}

func (f *Frontend) serveAnnounce(w http.ResponseWriter, r *http.Request) {
	info := RequestInfo{Protocol: ProtocolHTTP, Kind: KindAnnounce}
	req, err := f.parseAnnounce(r.URL.RawQuery, remoteIP(r.RemoteAddr))
	if err != nil {
		info.Result = ResultInvalid
		f.observe(info)
		f.writeFailure(w, err)
		return
	}
	info.Event = req.Event
	resp, err := f.announce(r.Context(), req)
	if err != nil {
		info.Result = resultOf(err)
		f.observe(info)
		f.writeFailure(w, err)
		return
	}
	d := f.announceDict(req, resp)
	info.Result, info.Seeders, info.Leechers = ResultOK, resp.Complete, resp.Incomplete
	info.Peers = len(validPeers(resp.Peers, req.NumWant))
	f.observe(info)
	f.writeBencode(w, d)
}

func (f *Frontend) serveScrape(w http.ResponseWriter, r *http.Request) {
	info := RequestInfo{Protocol: ProtocolHTTP, Kind: KindScrape}
	hashes, err := f.parseScrape(r.URL.RawQuery)
	if err != nil {
		info.Result = ResultInvalid
		f.observe(info)
		f.writeFailure(w, err)
		return
	}
	ctx, cancel := f.trackerContext(r.Context())
	defer cancel()
	var stats []ScrapeStats
	if len(hashes) == 0 {
		hashes, stats, err = f.fullScrape(ctx)
	} else {
		stats, err = f.scrape(ctx, hashes)
	}
	info.InfoHashes = len(hashes)
	if err != nil {
		info.Result = resultOf(err)
		f.observe(info)
		f.writeFailure(w, err)
		return
	}
	info.Result = ResultOK
	f.observe(info)
	files := make(map[string]any, len(hashes))
	for i, h := range hashes {
		files[string(h[:])] = map[string]any{
			"complete":   nonNeg(stats[i].Complete),
			"incomplete": nonNeg(stats[i].Incomplete),
			"downloaded": nonNeg(stats[i].Downloaded),
		}
	}
	f.writeBencode(w, map[string]any{"files": files})
}

func (f *Frontend) trackerContext(parent context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(parent, f.cfg.RequestTimeout)
}

// announce calls the Tracker for a torrent the access list allows.
func (f *Frontend) announce(ctx context.Context, req AnnounceRequest) (AnnounceResponse, error) {
	if !f.AccessList().Allowed(req.InfoHash) {
		return AnnounceResponse{}, ErrUnknownInfoHash
	}
	ctx, cancel := f.trackerContext(ctx)
	defer cancel()
	return f.tr.Announce(ctx, req)
}

// scrape calls the Tracker for the torrents the access list allows (the
// others get zero counts) and checks the shape of its answer.
func (f *Frontend) scrape(ctx context.Context, hashes []InfoHash) ([]ScrapeStats, error) {
	acl := f.AccessList()
	var ask []InfoHash
	for _, h := range hashes {
		if acl.Allowed(h) {
			ask = append(ask, h)
		}
	}
	out := make([]ScrapeStats, len(hashes))
	if len(ask) == 0 {
		return out, nil
	}
	stats, err := f.tr.Scrape(ctx, ask)
	if err != nil {
		return nil, err
	}
	if len(stats) != len(ask) {
		return nil, errors.New("bttracker: Tracker.Scrape returned " + strconv.Itoa(len(stats)) +
			" stats for " + strconv.Itoa(len(ask)) + " infohashes")
	}
	for i, j := 0, 0; i < len(hashes); i++ {
		if j < len(ask) && hashes[i] == ask[j] {
			out[i] = stats[j]
			j++
		}
	}
	return out, nil
}

// errNoFullScrape answers a scrape without info_hash when full scrape is
// off.
var errNoFullScrape error = ClientError("full scrape not supported; give info_hash")

// fullScrape lists every torrent the Tracker has that the access list
// allows, when Config.FullScrape is on.
func (f *Frontend) fullScrape(ctx context.Context) ([]InfoHash, []ScrapeStats, error) {
	fs, ok := f.tr.(FullScraper)
	if !f.cfg.FullScrape || !ok {
		return nil, nil, errNoFullScrape
	}
	hashes, stats, err := fs.ScrapeAll(ctx, maxFullScrape)
	if err != nil {
		return nil, nil, err
	}
	if len(stats) != len(hashes) {
		return nil, nil, errors.New("bttracker: ScrapeAll returned mismatched lists")
	}
	acl := f.AccessList()
	var hs []InfoHash
	var ss []ScrapeStats
	for i, h := range hashes {
		if acl.Allowed(h) && len(hs) < maxFullScrape {
			hs, ss = append(hs, h), append(ss, stats[i])
		}
	}
	return hs, ss, nil
}

func nonNeg(n int) int64 {
	if n < 0 {
		return 0
	}
	return int64(n)
}

// announceDict builds the bencoded announce response.
func (f *Frontend) announceDict(req AnnounceRequest, resp AnnounceResponse) map[string]any {
	interval, minInterval := resp.Interval, resp.MinInterval
	if interval <= 0 {
		interval = f.cfg.Interval
	}
	if minInterval <= 0 {
		minInterval = f.cfg.MinInterval
	}
	d := map[string]any{
		"interval":     seconds(interval),
		"min interval": seconds(minInterval),
		"complete":     nonNeg(resp.Complete),
		"incomplete":   nonNeg(resp.Incomplete),
	}
	if resp.WarningMessage != "" {
		d["warning message"] = resp.WarningMessage
	}
	peers := validPeers(resp.Peers, req.NumWant)
	if req.Compact {
		var v4, v6 []byte
		for _, p := range peers {
			if p.IP.Is4() {
				v4 = appendCompact(v4, p)
			} else {
				v6 = appendCompact(v6, p)
			}
		}
		d["peers"] = string(v4) // always present, possibly empty
		if len(v6) > 0 {
			d["peers6"] = string(v6)
		}
		return d
	}
	list := make([]any, 0, len(peers))
	for _, p := range peers {
		e := map[string]any{"ip": p.IP.String(), "port": int64(p.Port)}
		if !req.NoPeerID {
			e["peer id"] = string(p.ID[:])
		}
		list = append(list, e)
	}
	d["peers"] = list
	return d
}

// validPeers returns at most limit peers with a usable, unmapped address and
// a non-zero port.
func validPeers(in []Peer, limit int) []Peer {
	out := make([]Peer, 0, min(len(in), limit))
	for _, p := range in {
		if len(out) >= limit {
			break
		}
		ip := p.IP.Unmap().WithZone("")
		if !ip.IsValid() || ip.IsUnspecified() || p.Port == 0 {
			continue
		}
		p.IP = ip
		out = append(out, p)
	}
	return out
}

// appendCompact appends the BEP 23 (IPv4, 6 bytes) or BEP 7 (IPv6, 18 bytes)
// form of p.
func appendCompact(dst []byte, p Peer) []byte {
	if p.IP.Is4() {
		a := p.IP.As4()
		dst = append(dst, a[:]...)
	} else {
		a := p.IP.As16()
		dst = append(dst, a[:]...)
	}
	return append(dst, byte(p.Port>>8), byte(p.Port))
}

func (f *Frontend) writeFailure(w http.ResponseWriter, err error) {
	msg, internal := clientMessage(err)
	if internal {
		f.cfg.Logger.Warn("bttracker: http request failed", "err", err)
	}
	f.writeBencode(w, map[string]any{"failure reason": msg})
}

func (f *Frontend) writeBencode(w http.ResponseWriter, d map[string]any) {
	body, err := bencode.Encode(d)
	if err != nil { // only our own maps are encoded; this is a bug
		f.cfg.Logger.Error("bttracker: encoding response", "err", err)
		body = []byte("d14:failure reason" + strconv.Itoa(len(internalErrorText)) + ":" + internalErrorText + "e")
	}
	h := w.Header()
	h.Set("Content-Type", "text/plain")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	w.Write(body)
}

// remoteIP parses http.Request.RemoteAddr; it returns the zero Addr if that
// is not an IP:port.
func remoteIP(remoteAddr string) netip.Addr {
	ap, err := netip.ParseAddrPort(remoteAddr)
	if err != nil {
		return netip.Addr{}
	}
	return ap.Addr().Unmap().WithZone("")
}

// param is one decoded key=value pair of a query string.
type param struct{ key, value string }

// parseQuery splits a raw query string on '&' and percent-decodes keys and
// values itself. Unlike url.ParseQuery it keeps every byte: %00–%FF decode
// to themselves, raw bytes (including ';' and bytes ≥ 0x80) pass through
// unchanged, and '+' means a space, as in form encoding. A '%' not followed
// by two hex digits is an error. Empty pairs ("a=1&&b=2") are skipped.
func parseQuery(raw string, maxParams int) ([]param, error) {
	var out []param
	for len(raw) > 0 {
		var pair string
		pair, raw, _ = strings.Cut(raw, "&")
		if pair == "" {
			continue
		}
		if len(out) >= maxParams {
			return nil, ClientError("too many query parameters")
		}
		k, v, _ := strings.Cut(pair, "=")
		key, err := unescape(k)
		if err != nil {
			return nil, err
		}
		value, err := unescape(v)
		if err != nil {
			return nil, err
		}
		out = append(out, param{key, value})
	}
	return out, nil
}

func unescape(s string) (string, error) {
	if !strings.ContainsAny(s, "%+") {
		return s, nil
	}
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '%':
			if i+2 >= len(s) {
				return "", ClientError("malformed percent-encoding in query")
			}
			hi, ok1 := unhex(s[i+1])
			lo, ok2 := unhex(s[i+2])
			if !ok1 || !ok2 {
				return "", ClientError("malformed percent-encoding in query")
			}
			b = append(b, hi<<4|lo)
			i += 2
		case '+':
			b = append(b, ' ')
		default:
			b = append(b, c)
		}
	}
	return string(b), nil
}

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// id20Param reads a required 20-byte parameter (info_hash, peer_id) into
// dst.
func id20Param(known map[string]string, key string, dst *[20]byte) error {
	v, ok := known[key]
	switch {
	case !ok:
		return ClientError("missing " + key)
	case len(v) != len(dst):
		return ClientError(key + " must be 20 bytes")
	}
	copy(dst[:], v)
	return nil
}

// parseAnnounce turns a raw BEP 3 announce query into an AnnounceRequest.
// remote is the request's source address (zero if unknown). Every error is a
// ClientError fit to send back.
func (f *Frontend) parseAnnounce(rawQuery string, remote netip.Addr) (AnnounceRequest, error) {
	var req AnnounceRequest
	if len(rawQuery) > f.cfg.MaxQueryLength {
		return req, ClientError("request too long")
	}
	params, err := parseQuery(rawQuery, maxQueryParams)
	if err != nil {
		return req, err
	}
	// Known parameters must appear at most once; unknown ones are ignored.
	known := map[string]string{}
	for _, p := range params {
		switch p.key {
		case "info_hash", "peer_id", "port", "uploaded", "downloaded", "left",
			"event", "numwant", "compact", "no_peer_id", "ip":
			if _, dup := known[p.key]; dup {
				return req, ClientError("duplicate parameter " + p.key)
			}
			known[p.key] = p.value
		}
	}

	if err := id20Param(known, "info_hash", (*[20]byte)(&req.InfoHash)); err != nil {
		return req, err
	}
	if err := id20Param(known, "peer_id", (*[20]byte)(&req.PeerID)); err != nil {
		return req, err
	}

	switch ev := known["event"]; ev {
	case "", "empty", "paused": // "paused": BEP 21 partial seed, a regular announce
		req.Event = EventNone
	case "started":
		req.Event = EventStarted
	case "completed":
		req.Event = EventCompleted
	case "stopped":
		req.Event = EventStopped
	default:
		return req, ClientError("invalid event")
	}

	portStr, ok := known["port"]
	if !ok {
		return req, ClientError("missing port")
	}
	port, err := strconv.ParseUint(portStr, 10, 16)
	if err != nil || (port == 0 && req.Event != EventStopped) {
		return req, ClientError("invalid port")
	}
	req.Port = uint16(port)

	left, ok := known["left"]
	if !ok {
		return req, ClientError("missing left")
	}
	if req.Left, err = strconv.ParseUint(left, 10, 64); err != nil {
		return req, ClientError("invalid left")
	}
	if s, ok := known["uploaded"]; ok {
		if req.Uploaded, err = strconv.ParseUint(s, 10, 64); err != nil {
			return req, ClientError("invalid uploaded")
		}
	}
	if s, ok := known["downloaded"]; ok {
		if req.Downloaded, err = strconv.ParseUint(s, 10, 64); err != nil {
			return req, ClientError("invalid downloaded")
		}
	}

	req.NumWant = f.cfg.DefaultNumWant
	if s, ok := known["numwant"]; ok {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			var ne *strconv.NumError
			if !errors.As(err, &ne) || ne.Err != strconv.ErrRange {
				return req, ClientError("invalid numwant")
			}
			// Out of int64 range: huge positive → cap, huge negative → default.
			n = -1
			if s[0] != '-' {
				n = int64(f.cfg.MaxNumWant)
			}
		}
		req.NumWant = f.clampNumWant(n)
	}

	// BEP 23: compact unless the client explicitly asks otherwise.
	req.Compact = known["compact"] != "0"
	if s, ok := known["no_peer_id"]; ok && s != "0" {
		req.NoPeerID = true
	}

	req.RemoteIP = remote
	req.IP = remote
	if s, ok := known["ip"]; ok && !f.cfg.IgnoreIPParam {
		// An unusable ip parameter (a DNS name, garbage, 0.0.0.0) is ignored
		// rather than fatal: several clients let users type anything there.
		if ip, ok := parseAnnounceIP(s); ok {
			req.IP = ip
		}
	}
	if !req.IP.IsValid() {
		return req, ClientError("cannot determine client address")
	}
	return req, nil
}

// parseAnnounceIP accepts an IPv4 or IPv6 literal (optionally in brackets)
// that can be announced.
func parseAnnounceIP(s string) (netip.Addr, bool) {
	s = strings.TrimSuffix(strings.TrimPrefix(s, "["), "]")
	ip, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Addr{}, false
	}
	ip = ip.Unmap().WithZone("")
	if !usableIP(ip) {
		return netip.Addr{}, false
	}
	return ip, true
}

func usableIP(ip netip.Addr) bool {
	return ip.IsValid() && !ip.IsUnspecified() && !ip.IsMulticast() &&
		ip != netip.AddrFrom4([4]byte{255, 255, 255, 255})
}

// parseScrape returns the distinct infohashes of a BEP 48 scrape query, in
// order of first appearance.
func (f *Frontend) parseScrape(rawQuery string) ([]InfoHash, error) {
	if len(rawQuery) > f.cfg.MaxQueryLength {
		return nil, ClientError("request too long")
	}
	params, err := parseQuery(rawQuery, maxQueryParams)
	if err != nil {
		return nil, err
	}
	var hashes []InfoHash
	seen := map[InfoHash]bool{}
	for _, p := range params {
		if p.key != "info_hash" {
			continue
		}
		if len(p.value) != len(InfoHash{}) {
			return nil, ClientError("info_hash must be 20 bytes")
		}
		h := InfoHash([]byte(p.value))
		if seen[h] {
			continue
		}
		if len(hashes) >= f.cfg.MaxScrapeInfoHashes {
			return nil, ClientError("too many info_hash parameters")
		}
		seen[h] = true
		hashes = append(hashes, h)
	}
	return hashes, nil // none: a full scrape
}
