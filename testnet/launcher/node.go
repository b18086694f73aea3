package launcher

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/supertracker/supertracker/protocol/httpapi"
	"github.com/supertracker/supertracker/testnet/events"
	"github.com/supertracker/supertracker/testnet/proc"
	"github.com/supertracker/supertracker/testnet/scenario"
)

type nodeState int

const (
	stateDown     nodeState = iota // never started, killed or exited
	stateStarting                  // process being started, not ready yet
	stateUp                        // process running and ready
)

// node is one node of the overlay across its process incarnations. Its
// address, ports and data directory stay the same across restarts, so its
// peer ID and multiaddr do too.
type node struct {
	idx     int
	spec    scenario.NodeSpec
	ip      string
	port    int // libp2p TCP port
	api     string
	dataDir string
	logPath string
	client  *httpapi.Client

	mu          sync.Mutex
	state       nodeState
	p           *proc.Proc
	gen         int    // incarnation counter
	role        string // last known role ("leaf"/"supernode")
	addr        string // first printed /p2p/ multiaddr
	peerID      string
	wasSN       bool // seen as a supernode at least once (addr usable as bootstrap)
	cancelStart context.CancelFunc
	// traffic-based request rate (when the node reports no rate itself)
	prevIn   uint64
	prevAt   time.Time
	prevGen  int
	havePrev bool
	// attached: whether the node, as a leaf, last reported a supernode
	// (attachKnown: since its last start)
	attached, attachKnown bool
}

func (n *node) up() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.state == stateUp
}

func newNode(dir string, spec scenario.NodeSpec) (*node, error) {
	ip, err := nodeIP(spec.Index)
	if err != nil {
		return nil, err
	}
	port, err := freePort(ip)
	if err != nil {
		return nil, fmt.Errorf("node %d: %w", spec.Index, err)
	}
	apiPort, err := freePort(ip)
	if err != nil {
		return nil, fmt.Errorf("node %d: %w", spec.Index, err)
	}
	api := net.JoinHostPort(ip, strconv.Itoa(apiPort))
	return &node{
		idx: spec.Index, spec: spec, ip: ip, port: port, api: api,
		dataDir: filepath.Join(dir, "nodes", fmt.Sprintf("node%d", spec.Index)),
		logPath: filepath.Join(dir, "logs", fmt.Sprintf("node%d.log", spec.Index)),
		client:  httpapi.NewClient(api),
	}, nil
}

func (n *node) listen() string { return fmt.Sprintf("/ip4/%s/tcp/%d", n.ip, n.port) }

// peerIDOf returns the peer ID at the end of a /p2p/ multiaddr.
func peerIDOf(addr string) string {
	if i := strings.LastIndex(addr, "/p2p/"); i >= 0 {
		return addr[i+len("/p2p/"):]
	}
	return ""
}

// supernodeAddrs lists the multiaddrs of the supernodes up now, by node
// index, excluding node except. When none is up it falls back to every node
// ever seen as a supernode (their addresses are stable across restarts).
func (r *runner) supernodeAddrs(except int) []string {
	var up, known []string
	for _, n := range r.nodes {
		if n.idx == except {
			continue
		}
		n.mu.Lock()
		if n.addr != "" && n.state == stateUp && n.role == RoleSupernode {
			up = append(up, n.addr)
		}
		if n.addr != "" && n.wasSN {
			known = append(known, n.addr)
		}
		n.mu.Unlock()
	}
	if len(up) > 0 {
		return up
	}
	return known
}

// currentSupernodes lists the indices of the nodes up now in the
// supernode role, in index order.
func (r *runner) currentSupernodes() []int {
	var out []int
	for _, n := range r.nodes {
		n.mu.Lock()
		if n.state == stateUp && n.role == RoleSupernode {
			out = append(out, n.idx)
		}
		n.mu.Unlock()
	}
	return out
}

// launch starts a process for n with the command line of this moment.
func (r *runner) launch(ctx context.Context, n *node) (*proc.Proc, string, error) {
	args, role, dropped := nodeArgs(r.caps, r.sc, n.spec, n.listen(), n.dataDir, n.api, r.cfg.LogLevel, r.supernodeAddrs(n.idx))
	if len(dropped) > 0 {
		r.warnOnce("dropped", "`node --help` does not list %s: left out of the command line", strings.Join(dropped, ", "))
	}
	p, err := proc.Start(ctx, proc.Spec{Binary: r.cfg.Binary, Args: args, API: n.api, LogPath: n.logPath, Ready: r.cfg.ReadyTimeout})
	if err != nil {
		return nil, "", fmt.Errorf("node %d (%s): %w", n.idx, args[0], err)
	}
	r.cl.Add(p)
	r.recordPID(p.PID())
	if len(p.Addrs()) == 0 {
		p.Kill()
		return nil, "", fmt.Errorf("node %d: printed no address", n.idx)
	}
	return p, role, nil
}

// setUp records a freshly started process; n.mu must be held.
func (r *runner) setUpLocked(n *node, p *proc.Proc, role string) {
	n.p, n.state, n.role = p, stateUp, role
	n.gen++
	n.addr = p.Addrs()[0]
	n.peerID = peerIDOf(n.addr)
	if role == RoleSupernode {
		n.wasSN = true
	}
	n.havePrev = false
	n.attachKnown = false
	r.mu.Lock()
	r.byPeer[n.peerID] = n.idx
	r.mu.Unlock()
	r.watch.Add(1)
	go r.watchExit(n, p)
}

// watchExit reports a process that exits without the launcher killing it.
func (r *runner) watchExit(n *node, p *proc.Proc) {
	defer r.watch.Done()
	<-p.Done()
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.p != p {
		return // killed or stopped by the launcher
	}
	n.p, n.state = nil, stateDown
	code, msg := exitStatus(p.Err())
	r.emit(events.NodeExit{Node: n.idx, Code: code, Error: msg})
	r.warn("node %d exited by itself: %s (see %s)", n.idx, msg, n.logPath)
}

func exitStatus(err error) (int, string) {
	if err == nil {
		return 0, "exit status 0"
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return 128 + int(ws.Signal()), err.Error()
		}
		return ee.ExitCode(), err.Error()
	}
	return -1, err.Error()
}

// startFirst starts n for the first time (synchronously).
func (r *runner) startFirst(ctx context.Context, n *node) error {
	n.mu.Lock()
	n.state = stateStarting
	n.mu.Unlock()
	p, role, err := r.launch(ctx, n)
	n.mu.Lock()
	defer n.mu.Unlock()
	if err != nil {
		n.state = stateDown
		return err
	}
	r.setUpLocked(n, p, role)
	r.emit(events.NodeStart{Node: n.idx, Role: role, PID: p.PID()})
	return nil
}

// kill SIGKILLs n if it is up; pre runs (under the node's lock) just before
// the NodeKill event. A node being started has its start cancelled and
// counts as down. It reports whether a running process was killed.
func (r *runner) kill(n *node, cause string, pre func()) bool {
	n.mu.Lock()
	if n.state != stateUp {
		if n.state == stateStarting && n.cancelStart != nil {
			n.cancelStart()
		}
		n.mu.Unlock()
		return false
	}
	p := n.p
	n.p, n.state = nil, stateDown
	if pre != nil {
		pre()
	}
	r.emit(events.NodeKill{Node: n.idx, Cause: cause})
	n.mu.Unlock()
	p.Kill()
	return true
}

// restart starts n again in the background if it is down; pre runs (under
// the node's lock) when it is. It reports whether a start was begun.
func (r *runner) restart(n *node, cause string, pre func()) bool {
	n.mu.Lock()
	if n.state != stateDown {
		n.mu.Unlock()
		return false
	}
	sctx, cancel := context.WithCancel(r.startCtx)
	n.state, n.cancelStart = stateStarting, cancel
	if pre != nil {
		pre()
	}
	n.mu.Unlock()
	r.bg.Add(1)
	go func() {
		defer r.bg.Done()
		defer cancel()
		p, role, err := r.launch(sctx, n)
		n.mu.Lock()
		n.cancelStart = nil
		switch {
		case sctx.Err() != nil || n.state != stateStarting: // killed while starting, or shutdown
			n.state = stateDown
		case err != nil:
			n.state = stateDown
			r.warn("restarting node %d: %v", n.idx, err)
		default:
			r.setUpLocked(n, p, role)
			r.emit(events.NodeRestart{Node: n.idx, Role: role, PID: p.PID(), Cause: cause})
			p = nil
		}
		n.mu.Unlock()
		if p != nil {
			p.Kill()
		}
	}()
	return true
}

// stop stops n at the end of the run (SIGTERM, SIGKILL after grace).
func (r *runner) stop(n *node, grace time.Duration) {
	n.mu.Lock()
	if n.cancelStart != nil {
		n.cancelStart()
	}
	if n.state != stateUp {
		n.mu.Unlock()
		return
	}
	p := n.p
	n.p, n.state = nil, stateDown
	r.emit(events.NodeKill{Node: n.idx, Cause: events.CauseShutdown})
	n.mu.Unlock()
	_ = p.Stop(grace)
}
