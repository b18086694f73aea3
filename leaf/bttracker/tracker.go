package bttracker

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"
	"time"
)

// Tracker is the tracker logic behind the frontends. The frontends only parse
// requests and write responses; every decision (which peers to return, how
// long to wait, what to store) is the Tracker's. Implementations must be safe
// for concurrent use.
type Tracker interface {
	// Announce records the announcing peer (or removes it on EventStopped)
	// and returns peers for the same torrent. It should return at most
	// req.NumWant peers; the frontends truncate longer lists.
	Announce(ctx context.Context, req AnnounceRequest) (AnnounceResponse, error)

	// Scrape returns statistics for each infohash, in the same order and
	// with the same length as infohashes (which holds no duplicates). An
	// unknown infohash should get zero stats rather than an error.
	Scrape(ctx context.Context, infohashes []InfoHash) ([]ScrapeStats, error)
}

// FullScraper is implemented by a Tracker that can list its torrents, for
// a scrape without info_hash (BEP 48's full scrape) when
// Config.FullScrape is on. It returns at most max torrents.
type FullScraper interface {
	ScrapeAll(ctx context.Context, max int) ([]InfoHash, []ScrapeStats, error)
}

// maxFullScrape bounds the torrents in one full scrape.
const maxFullScrape = 10000

// InfoHash is a BitTorrent v1 infohash: the SHA-1 of a torrent's bencoded
// info dictionary (or a v2 SHA-256 infohash truncated to 20 bytes, as the
// tracker protocols carry it).
type InfoHash [20]byte

// String returns the infohash as 40 lowercase hex digits.
func (h InfoHash) String() string { return hex.EncodeToString(h[:]) }

// ParseInfoHash parses 40 hex digits (either case).
func ParseInfoHash(s string) (InfoHash, error) {
	var h InfoHash
	if len(s) != 2*len(h) {
		return h, fmt.Errorf("bttracker: infohash %q: want 40 hex digits", s)
	}
	if _, err := hex.Decode(h[:], []byte(s)); err != nil {
		return InfoHash{}, fmt.Errorf("bttracker: infohash %q: %w", s, err)
	}
	return h, nil
}

// PeerID is the 20-byte peer ID a BitTorrent client chooses for itself.
type PeerID [20]byte

// Event is the announce event. The values match BEP 15's numbering.
type Event uint8

const (
	EventNone      Event = 0 // a regular re-announce
	EventCompleted Event = 1 // the download just finished
	EventStarted   Event = 2 // the first announce of a session
	EventStopped   Event = 3 // the client is leaving the swarm
)

func (e Event) String() string {
	switch e {
	case EventNone:
		return "none"
	case EventCompleted:
		return "completed"
	case EventStarted:
		return "started"
	case EventStopped:
		return "stopped"
	}
	return fmt.Sprintf("Event(%d)", uint8(e))
}

// AnnounceRequest is a parsed announce, from HTTP (BEP 3) or UDP (BEP 15).
type AnnounceRequest struct {
	InfoHash InfoHash
	PeerID   PeerID

	// IP is the address the peer asks to be reached at: the `ip` parameter
	// (HTTP) or IP field (UDP) when present and allowed by Config, otherwise
	// RemoteIP. IPv4-mapped IPv6 addresses are unmapped. It is always valid.
	IP netip.Addr
	// RemoteIP is the source address of the request itself. For a leaf
	// agent serving local clients this is usually a loopback address.
	RemoteIP netip.Addr
	// Port is the peer's listening port. It is non-zero unless Event is
	// EventStopped.
	Port uint16

	Uploaded, Downloaded, Left uint64
	Event                      Event

	// NumWant is how many peers the client wants, already clamped to
	// [0, Config.MaxNumWant]; Config.DefaultNumWant when the client did not
	// say.
	NumWant int
	// Compact and NoPeerID describe the HTTP response format the client
	// asked for; the frontend applies them, they are informational for the
	// Tracker. UDP requests are always Compact.
	Compact  bool
	NoPeerID bool
}

// Seeder reports whether the announcing peer has the whole torrent.
func (r AnnounceRequest) Seeder() bool { return r.Left == 0 }

// AnnounceResponse is what the Tracker answers to an announce.
type AnnounceResponse struct {
	// Interval is how long the client should wait before re-announcing;
	// zero means Config.Interval. MinInterval is the minimum the client
	// must wait; zero means Config.MinInterval. Both are sent in whole
	// seconds.
	Interval, MinInterval time.Duration
	// Complete counts seeders and Incomplete leechers in the swarm.
	Complete, Incomplete int
	// Peers are returned to the client. Entries with an invalid IP or a
	// zero port are skipped.
	Peers []Peer
	// WarningMessage, if set, is sent as the HTTP "warning message" (the
	// announce still succeeds). UDP has no place for it.
	WarningMessage string
}

// Peer is one entry of an announce response.
type Peer struct {
	IP   netip.Addr
	Port uint16
	ID   PeerID // sent only in non-compact HTTP responses without no_peer_id
}

// ScrapeStats are the statistics of one torrent (BEP 48).
type ScrapeStats struct {
	Complete   int // seeders
	Incomplete int // leechers
	Downloaded int // completed downloads ever reported
}

// ClientError is an error whose text is safe to show to a BitTorrent client.
// The frontends send the text of any error that is, or wraps, a ClientError
// as the HTTP "failure reason" or the UDP error message. Every other error a
// Tracker returns is logged and reported to the client as a generic
// "internal tracker error", so internal details do not leak.
type ClientError string

func (e ClientError) Error() string { return string(e) }

// Sentinel errors a Tracker may return (possibly wrapped with %w). They are
// ClientErrors, so their text reaches the client.
var (
	// ErrUnknownInfoHash: the tracker refuses to track this torrent.
	ErrUnknownInfoHash error = ClientError("unregistered torrent")
	// ErrInvalidRequest: the request parsed but the Tracker rejects its
	// contents.
	ErrInvalidRequest error = ClientError("invalid request")
	// ErrUnavailable: the tracker cannot answer now (e.g. the overlay is
	// unreachable); the client should retry later. Request deadlines
	// (context.DeadlineExceeded) are reported with this text too.
	ErrUnavailable error = ClientError("tracker temporarily unavailable")
	// ErrTooManyRequests: the client is announcing too often.
	ErrTooManyRequests error = ClientError("too many requests, slow down")
)

const internalErrorText = "internal tracker error"

// clientMessage returns the text to send to a client for err and whether err
// is an internal error that should be logged.
func clientMessage(err error) (msg string, internal bool) {
	var ce ClientError
	switch {
	case errors.As(err, &ce):
		return string(ce), false
	case errors.Is(err, context.DeadlineExceeded):
		return string(ErrUnavailable.(ClientError)), true
	default:
		return internalErrorText, true
	}
}
