package bttracker_test

import (
	"context"
	"fmt"
	"log"
	"net/netip"
	"os/signal"
	"syscall"
	"time"

	"github.com/supertracker/supertracker/leaf/bttracker"
)

// staticTracker is a stand-in for the leaf agent's overlay-backed Tracker.
type staticTracker struct{}

func (staticTracker) Announce(ctx context.Context, req bttracker.AnnounceRequest) (bttracker.AnnounceResponse, error) {
	_ = bttracker.InfoHashToCID(req.InfoHash) // the key to publish and look up in the overlay
	return bttracker.AnnounceResponse{
		Interval: 30 * time.Minute,
		Complete: 1,
		Peers:    []bttracker.Peer{{IP: netip.MustParseAddr("192.0.2.7"), Port: 51413}},
	}, nil
}

func (staticTracker) Scrape(ctx context.Context, hs []bttracker.InfoHash) ([]bttracker.ScrapeStats, error) {
	return make([]bttracker.ScrapeStats, len(hs)), nil
}

func Example() {
	fe, err := bttracker.New(staticTracker{}, bttracker.Config{})
	if err != nil {
		log.Fatal(err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	// http://127.0.0.1:6969/announce and udp://127.0.0.1:6969/announce
	if err := fe.ListenAndServe(ctx, "127.0.0.1:6969"); err != nil {
		log.Fatal(err)
	}
}

func ExampleInfoHashToCID() {
	h, _ := bttracker.ParseInfoHash("c9e15763f722f23e98a29decdfae341b98d53056")
	c := bttracker.InfoHashToCID(h)
	back, _ := bttracker.CIDToInfoHash(c)
	fmt.Println(c)
	fmt.Println(c.Prefix().Codec == bttracker.CodecTorrentInfo, back == h)
	// Output:
	// baf5rcfgj4flwh5zc6i7jriu55tp24na3tdktavq
	// true true
}
