package bttracker

import (
	"cmp"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"
)

// Config tunes the frontends. The zero value of every field means "use the
// default" listed next to it.
type Config struct {
	// Interval and MinInterval are sent when the Tracker's response leaves
	// them zero. Defaults 30 min and 15 min.
	Interval, MinInterval time.Duration

	// DefaultNumWant is used when the client does not send numwant (or sends
	// a negative one); MaxNumWant caps it. Defaults 50 and 200.
	DefaultNumWant, MaxNumWant int

	// IgnoreIPParam makes the frontends ignore the HTTP `ip` parameter and
	// the UDP IP field, so AnnounceRequest.IP is always the request's
	// source address. By default they are honoured, as a tracker serving
	// clients on the local machine must: those clients connect from
	// loopback but may announce their LAN or public address.
	IgnoreIPParam bool

	// MaxQueryLength bounds the raw HTTP query string, in bytes. Default
	// 8192.
	MaxQueryLength int
	// MaxScrapeInfoHashes bounds the infohashes in one scrape, HTTP or UDP.
	// Default (and maximum) 74, what fits in one UDP scrape packet.
	MaxScrapeInfoHashes int

	// RequestTimeout bounds each call into the Tracker. Default 10 s.
	RequestTimeout time.Duration

	// UDPConnectionIDTTL is the minimum time a UDP connection ID stays
	// valid (BEP 15 asks for two minutes); it expires at most a quarter
	// later. Default 2 min.
	UDPConnectionIDTTL time.Duration
	// UDPSecret keys the connection ID MAC. Default: 32 random bytes chosen
	// by New. Set it only to share IDs between several processes.
	UDPSecret []byte
	// UDPMaxInFlight bounds the UDP packets being handled at once; the read
	// loop waits when it is reached. Default 256.
	UDPMaxInFlight int

	// FullScrape answers /scrape without info_hash with every torrent the
	// Tracker lists (it must implement FullScraper). Off by default: a full
	// scrape tells anyone every torrent this tracker serves.
	FullScrape bool

	// OnRequest, if set, is called after every announce and scrape is
	// answered (for metrics); it must not block.
	OnRequest func(RequestInfo)

	// Now is the clock, used for UDP connection ID expiry. Default
	// time.Now.
	Now func() time.Time
	// Logger receives internal errors (never client mistakes). Default:
	// discard.
	Logger *slog.Logger
}

const maxUDPScrape = 74 // (1500 - 20 - 8 - 16) / 20, per BEP 15

func (c Config) withDefaults() (Config, error) {
	c.Interval = cmp.Or(c.Interval, 30*time.Minute)
	c.MinInterval = cmp.Or(c.MinInterval, 15*time.Minute)
	c.DefaultNumWant = cmp.Or(c.DefaultNumWant, 50)
	c.MaxNumWant = cmp.Or(c.MaxNumWant, 200)
	c.MaxQueryLength = cmp.Or(c.MaxQueryLength, 8192)
	c.MaxScrapeInfoHashes = cmp.Or(c.MaxScrapeInfoHashes, maxUDPScrape)
	c.RequestTimeout = cmp.Or(c.RequestTimeout, 10*time.Second)
	c.UDPConnectionIDTTL = cmp.Or(c.UDPConnectionIDTTL, 2*time.Minute)
	c.UDPMaxInFlight = cmp.Or(c.UDPMaxInFlight, 256)
	if c.Now == nil {
		c.Now = time.Now
	}
	c.Logger = cmp.Or(c.Logger, slog.New(slog.DiscardHandler))
	if len(c.UDPSecret) == 0 {
		c.UDPSecret = make([]byte, 32)
		rand.Read(c.UDPSecret) // never fails (crypto/rand, Go ≥ 1.24)
	} else {
		c.UDPSecret = append([]byte(nil), c.UDPSecret...)
	}
	switch {
	case c.Interval < time.Second || c.MinInterval < time.Second:
		return c, errors.New("bttracker: Interval and MinInterval must be at least 1s")
	case c.DefaultNumWant < 0 || c.MaxNumWant < 0 || c.DefaultNumWant > c.MaxNumWant:
		return c, fmt.Errorf("bttracker: need 0 <= DefaultNumWant (%d) <= MaxNumWant (%d)", c.DefaultNumWant, c.MaxNumWant)
	case c.MaxQueryLength < 0:
		return c, errors.New("bttracker: negative MaxQueryLength")
	case c.MaxScrapeInfoHashes < 0 || c.MaxScrapeInfoHashes > maxUDPScrape:
		return c, fmt.Errorf("bttracker: MaxScrapeInfoHashes must be in [1, %d]", maxUDPScrape)
	case c.RequestTimeout < 0:
		return c, errors.New("bttracker: negative RequestTimeout")
	case c.UDPConnectionIDTTL < 4*time.Millisecond:
		return c, errors.New("bttracker: UDPConnectionIDTTL too small")
	case c.UDPMaxInFlight < 0:
		return c, errors.New("bttracker: negative UDPMaxInFlight")
	}
	return c, nil
}

// Frontend serves the BitTorrent tracker protocols in front of a Tracker. It
// is an http.Handler for HTTP announce and scrape, and makes UDPServers for
// BEP 15. It is safe for concurrent use.
type Frontend struct {
	tr     Tracker
	cfg    Config
	connID connIDs
	access atomic.Pointer[AccessList]
}

// New returns a Frontend calling tr, configured by cfg (zero fields take
// their defaults). It fails only on a nil Tracker or an invalid Config.
func New(tr Tracker, cfg Config) (*Frontend, error) {
	if tr == nil {
		return nil, errors.New("bttracker: nil Tracker")
	}
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	return &Frontend{
		tr:  tr,
		cfg: cfg,
		connID: connIDs{
			key:    cfg.UDPSecret,
			window: cfg.UDPConnectionIDTTL / connIDWindows,
		},
	}, nil
}

// Config returns the effective configuration, with defaults filled in (and
// UDPSecret omitted).
func (f *Frontend) Config() Config {
	c := f.cfg
	c.UDPSecret = nil
	return c
}

// clampNumWant applies the client's numwant policy shared by HTTP and UDP:
// negative means "default", anything above MaxNumWant is capped.
func (f *Frontend) clampNumWant(n int64) int {
	switch {
	case n < 0:
		return f.cfg.DefaultNumWant
	case n > int64(f.cfg.MaxNumWant):
		return f.cfg.MaxNumWant
	}
	return int(n)
}

// seconds renders an interval in whole seconds, at least 1.
func seconds(d time.Duration) int64 {
	s := int64(d / time.Second)
	if s < 1 {
		s = 1
	}
	return s
}
