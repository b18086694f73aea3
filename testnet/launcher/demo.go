package launcher

import (
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ipfs/go-cid"
	mh "github.com/multiformats/go-multihash"

	"github.com/supertracker/supertracker/protocol/httpapi"
	"github.com/supertracker/supertracker/testnet/proc"
)

// DemoConfig is the small fixed overlay `supertracker-lab testnet --demo` runs.
type DemoConfig struct {
	Binary     string
	Dir        string
	Supernodes int
	Leaves     int
	Objects    int
}

// Cluster is a set of processes the launcher owns. It is safe for
// concurrent use.
type Cluster struct {
	mu    sync.Mutex
	procs []*proc.Proc
}

// Add registers a process for cleanup.
func (c *Cluster) Add(p *proc.Proc) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.procs = append(c.procs, p)
}

// StopAll stops every process still running (SIGTERM, then SIGKILL after
// grace), all at once, and returns when every one has exited.
func (c *Cluster) StopAll(grace time.Duration) {
	var wg sync.WaitGroup
	for _, p := range c.Procs() {
		select {
		case <-p.Done():
		default:
			wg.Go(func() { _ = p.Stop(grace) })
		}
	}
	wg.Wait()
}

func objectCID(i int) cid.Cid {
	sum := sha256.Sum256([]byte("supertracker-demo-object-" + strconv.Itoa(i)))
	h, _ := mh.Encode(sum[:], mh.SHA2_256)
	return cid.NewCidV1(cid.Raw, h)
}

// StartSupernode starts supernode i of a local overlay.
func StartSupernode(ctx context.Context, c *Cluster, bin, dir string, i int, bootstrap []string, extra ...string) (*proc.Proc, error) {
	args := []string{"--local"}
	if len(bootstrap) > 0 {
		args = append(args, "--bootstrap", strings.Join(bootstrap, ","))
	}
	return startLocal(ctx, c, bin, dir, i, "supernode", append(args, extra...))
}

// StartLeaf starts leaf i of a local overlay attached to supernodes.
func StartLeaf(ctx context.Context, c *Cluster, bin, dir string, i int, supernodes []string, extra ...string) (*proc.Proc, error) {
	args := []string{"--supernode", strings.Join(supernodes, ",")}
	return startLocal(ctx, c, bin, dir, i, "leaf", append(args, extra...))
}

// startLocal starts `bin command` as node i on 127.0.0.(i+2) with its data
// dir, log and API under dir, and registers it with c.
func startLocal(ctx context.Context, c *Cluster, bin, dir string, i int, command string, extra []string) (*proc.Proc, error) {
	ip, err := nodeIP(i)
	if err != nil {
		return nil, err
	}
	port, err := freePort(ip)
	if err != nil {
		return nil, err
	}
	api := net.JoinHostPort(ip, strconv.Itoa(port))
	args := append([]string{command, "--listen", fmt.Sprintf("/ip4/%s/tcp/0", ip),
		"--data", filepath.Join(dir, fmt.Sprintf("node%d", i)), "--api", api, "--log-level", "warn"}, extra...)
	p, err := proc.Start(ctx, proc.Spec{Binary: bin, Args: args, API: api, LogPath: filepath.Join(dir, fmt.Sprintf("node%d.log", i))})
	if err != nil {
		return nil, fmt.Errorf("%s %d: %w", command, i, err)
	}
	c.Add(p)
	return p, nil
}

// RunDemo starts the overlay, announces from every leaf, looks every object
// up from every other leaf, prints what it found and stops everything. It
// returns an error if any lookup missed an announcer.
func RunDemo(ctx context.Context, cfg DemoConfig, out io.Writer) (err error) {
	c := &Cluster{}
	defer c.StopAll(5 * time.Second)
	if err := os.MkdirAll(cfg.Dir, 0o755); err != nil {
		return err
	}
	fmt.Fprintf(out, "starting %d supernodes and %d leaves on 127.0.0.x (logs in %s)\n", cfg.Supernodes, cfg.Leaves, cfg.Dir)
	var boot, all []string
	for i := 0; i < cfg.Supernodes; i++ {
		p, err := StartSupernode(ctx, c, cfg.Binary, cfg.Dir, i, boot)
		if err != nil {
			return err
		}
		if i == 0 {
			boot = p.Addrs()[:1]
		}
		all = append(all, p.Addrs()[0])
		fmt.Fprintf(out, "  supernode %d  %s\n", i, p.Addrs()[0])
	}
	var leaves []*proc.Proc
	for i := 0; i < cfg.Leaves; i++ {
		p, err := StartLeaf(ctx, c, cfg.Binary, cfg.Dir, cfg.Supernodes+i, []string{all[i%len(all)]})
		if err != nil {
			return err
		}
		leaves = append(leaves, p)
		fmt.Fprintf(out, "  leaf %d       %s  (api %s)\n", i, p.Addrs()[0], p.API())
	}
	// Each leaf announces every object o with o % Leaves == its index.
	holders := map[string][]string{}
	for o := 0; o < cfg.Objects; o++ {
		l := leaves[o%len(leaves)]
		c := objectCID(o).String()
		actx, cancel := context.WithTimeout(ctx, 30*time.Second)
		res, err := httpapi.NewClient(l.API()).Announce(actx, []string{c})
		cancel()
		if err != nil {
			return fmt.Errorf("announce %s from leaf %d: %w", c, o%len(leaves), err)
		}
		holders[c] = append(holders[c], l.Addrs()[0])
		fmt.Fprintf(out, "leaf %d announced %s (stored on %d supernodes)\n", o%len(leaves), c, res.Replicas)
	}
	misses := 0
	for o := 0; o < cfg.Objects; o++ {
		c := objectCID(o).String()
		from := (o + 1) % len(leaves)
		lctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		start := time.Now()
		res, err := httpapi.NewClient(leaves[from].API()).Lookup(lctx, c, 0)
		cancel()
		if err != nil {
			return fmt.Errorf("lookup %s from leaf %d: %w", c, from, err)
		}
		found := false
		for _, h := range res.Holders {
			for _, a := range h.Addrs {
				if a == holders[c][0] {
					found = true
				}
			}
		}
		if !found {
			misses++
		}
		fmt.Fprintf(out, "leaf %d looked up %s in %s: %d holder(s)\n", from, c, time.Since(start).Round(time.Millisecond), len(res.Holders))
		for _, h := range res.Holders {
			fmt.Fprintf(out, "    %s\n", h.Addrs[0])
		}
	}
	fmt.Fprintf(out, "%d/%d lookups found their announcer; stopping\n", cfg.Objects-misses, cfg.Objects)
	if misses > 0 {
		return fmt.Errorf("%d lookups did not find their announcer", misses)
	}
	return nil
}

// Procs lists the processes in start order.
func (c *Cluster) Procs() []*proc.Proc {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]*proc.Proc(nil), c.procs...)
}
