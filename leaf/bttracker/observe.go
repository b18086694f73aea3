package bttracker

import (
	"context"
	"errors"
	"net/http"
)

// Protocols, kinds and results of a RequestInfo.
const (
	ProtocolHTTP = "http"
	ProtocolUDP  = "udp"

	KindAnnounce = "announce"
	KindScrape   = "scrape"

	ResultOK          = "ok"          // answered
	ResultInvalid     = "invalid"     // malformed request, bad UDP connection ID
	ResultDenied      = "denied"      // infohash not allowed (AccessList, ErrUnknownInfoHash)
	ResultRefused     = "refused"     // the Tracker refused it (another ClientError: full, too many requests)
	ResultUnavailable = "unavailable" // the Tracker could not answer in time (ErrUnavailable, deadline)
	ResultError       = "error"       // an internal error
	ResultCrossSite   = "cross_site"  // an HTTP request a web page made a browser send
)

// Results lists every Result value, for metrics that want them all present.
var Results = []string{ResultOK, ResultInvalid, ResultDenied, ResultRefused, ResultUnavailable, ResultError, ResultCrossSite}

// RequestInfo describes one answered announce or scrape, for
// Config.OnRequest (metrics).
type RequestInfo struct {
	Protocol string // ProtocolHTTP or ProtocolUDP
	Kind     string // KindAnnounce or KindScrape
	Result   string // one of Results
	Event    Event  // announce: the client's event
	// Announce answered: peers returned, and the swarm's seeders and
	// leechers as reported to the client.
	Peers, Seeders, Leechers int
	// Scrape: the infohashes asked about.
	InfoHashes int
}

func (f *Frontend) observe(info RequestInfo) {
	if f.cfg.OnRequest != nil {
		f.cfg.OnRequest(info)
	}
}

// resultOf classifies a Tracker error.
func resultOf(err error) string {
	var ce ClientError
	switch {
	case err == nil:
		return ResultOK
	case errors.Is(err, ErrUnknownInfoHash):
		return ResultDenied
	case errors.Is(err, ErrUnavailable), errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		return ResultUnavailable
	case errors.As(err, &ce):
		return ResultRefused
	}
	return ResultError
}

// fromBrowser reports the markers a browser puts on a request that a web
// page made (a cross-site <img>, fetch or form): an Origin or Referer
// header, or Sec-Fetch-Site other than "none" (a URL the user typed).
// BitTorrent clients send none of them, so such a request can only be a
// page trying to announce in the user's name.
func fromBrowser(r *http.Request) bool {
	if r.Header.Get("Origin") != "" || r.Header.Get("Referer") != "" {
		return true
	}
	site := r.Header.Get("Sec-Fetch-Site")
	return site != "" && site != "none"
}
