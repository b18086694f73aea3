package bench

import (
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"sync"
	"time"

	leveldb "github.com/ipfs/go-ds-leveldb"
	golog "github.com/ipfs/go-log/v2"
	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/host"
	rcmgr "github.com/libp2p/go-libp2p/p2p/host/resource-manager"
	"github.com/syndtr/goleveldb/leveldb/util"
)

// quietLibp2p keeps go-libp2p's and kad-dht's log noise (e.g. "failed to
// resolve local interface addresses") out of the bench's output.
func quietLibp2p() {
	_ = golog.SetLogLevel("*", "fatal")
}

// newHost starts a libp2p host on 127.0.0.1 (a kernel-chosen port) with the
// resource limits the daemon and the flat-DHT baseline process use
// (cmd/supertracker, testnet/baseline/flatdht), so in-process nodes are
// limited like real ones.
func newHost() (host.Host, error) {
	limits := rcmgr.DefaultLimits
	libp2p.SetDefaultServiceLimits(&limits)
	partial := rcmgr.PartialLimitConfig{
		System:    rcmgr.ResourceLimits{ConnsInbound: 2048, Conns: 4096, StreamsInbound: 16384, Streams: 32768},
		Transient: rcmgr.ResourceLimits{ConnsInbound: 512, Conns: 1024},
	}
	mgr, err := rcmgr.NewResourceManager(rcmgr.NewFixedLimiter(partial.Build(limits.AutoScale())))
	if err != nil {
		return nil, err
	}
	h, err := libp2p.New(libp2p.ListenAddrStrings("/ip4/127.0.0.1/tcp/0"), libp2p.ResourceManager(mgr))
	if err != nil {
		mgr.Close()
		return nil, fmt.Errorf("libp2p host: %w", err)
	}
	return h, nil
}

// openLevelDB opens a go-ds-leveldb datastore in dir without fsync on every
// write (the daemon's nodeStore also writes without sync and syncs
// periodically; go-ds-leveldb's default fsyncs each Put).
func openLevelDB(dir string) (*leveldb.Datastore, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	d, err := leveldb.NewDatastore(dir, &leveldb.Options{NoSync: true})
	if err != nil {
		return nil, fmt.Errorf("leveldb %s: %w", dir, err)
	}
	return d, nil
}

// compactedSize compacts the whole key range of d and returns the bytes of
// every file in dir.
func compactedSize(d *leveldb.Datastore, dir string) (int64, error) {
	if err := d.DB.CompactRange(util.Range{}); err != nil {
		return 0, fmt.Errorf("compacting %s: %w", dir, err)
	}
	return dirSize(dir)
}

func dirSize(dir string) (int64, error) {
	var total int64
	err := filepath.WalkDir(dir, func(_ string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if e.Type().IsRegular() {
			info, err := e.Info()
			if err != nil {
				return err
			}
			total += info.Size()
		}
		return nil
	})
	return total, err
}

// freePort returns a TCP port on ip that was free a moment ago.
func freePort(ip string) (int, error) {
	ln, err := net.Listen("tcp", net.JoinHostPort(ip, "0"))
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// closeHosts closes hosts in two passes: every host's network first (all
// connections and listeners), then the hosts. With go-libp2p v0.51.0 a
// host that still receives identify pushes while it closes can hang for
// ever: its observed-address manager stops reading identify events when
// the host's context is cancelled but stays subscribed, the identify
// handler blocks emitting to it while holding the event bus lock, and the
// AutoNAT service's Close waits for that lock. Closing every network first
// means no pushes arrive (services that stop remove stream handlers, and
// each removal pushes to every connected peer). A host that still does not
// close within hostCloseTimeout is abandoned and counted.
func closeHosts(hosts []host.Host) (abandoned int) {
	_ = parallel(len(hosts), 32, func(i int) error {
		if hosts[i] != nil {
			_ = hosts[i].Network().Close()
		}
		return nil
	})
	var mu sync.Mutex
	_ = parallel(len(hosts), 32, func(i int) error {
		if hosts[i] == nil {
			return nil
		}
		done := make(chan struct{})
		go func() { _ = hosts[i].Close(); close(done) }()
		select {
		case <-done:
		case <-time.After(hostCloseTimeout):
			mu.Lock()
			abandoned++
			mu.Unlock()
		}
		return nil
	})
	return abandoned
}

const hostCloseTimeout = 10 * time.Second
