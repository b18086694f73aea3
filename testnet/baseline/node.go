package baseline

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/ipfs/go-cid"

	"github.com/supertracker/supertracker/protocol/httpapi"
)

// Backend is one design's node behind the launcher-facing CLI and API.
type Backend interface {
	// Start brings the node up; when it returns, Addrs and PeerID are set.
	Start(ctx context.Context, n *Node) error
	// Addrs are the full multiaddrs (ending in /p2p/PEERID) to print.
	Addrs() []string
	PeerID() string
	// Announce publishes that this node holds cids; replicas is how many
	// tracker nodes took it when the design knows (0 otherwise).
	Announce(ctx context.Context, cids []cid.Cid) (replicas int, err error)
	// Lookup returns holders of c, at most limit.
	Lookup(ctx context.Context, c cid.Cid, limit int) ([]httpapi.Holder, LookupInfo, error)
	// Status fills the design-specific parts of the status.
	Status(st *Status)
	Close() error
}

// LookupInfo is what a backend reports about one lookup.
type LookupInfo struct {
	RPCs     int           // DHT requests sent (flatdht)
	Trackers int           // trackers that answered (server)
	First    time.Duration // flatdht: when the first provider arrived (0: none)
}

// Status is GET /v1/status of a baseline node: the overlay's status plus
// the load fields the launcher samples and a few baseline fields.
type Status struct {
	httpapi.Status
	ReqPerS   *float64 `json:"req_per_s,omitempty"`
	Design    string   `json:"design"`
	Invoked   string   `json:"invoked_as"`           // "supernode" or "leaf"
	ServerPID int      `json:"server_pid,omitempty"` // server design: opentracker hosted here
}

// Node is the process-level state a backend sees.
type Node struct {
	Cfg     *Config
	Sub     string // "supernode" or "leaf": how the launcher invoked us
	IP      string
	Port    int
	DataDir string
	API     string
	Peers   []string // --bootstrap and --supernode multiaddrs
	Log     *slog.Logger
	Debug   bool

	start time.Time
	mu    sync.Mutex
	held  []string // CIDs this node holds, sorted
	ops   *os.File
}

// Holds reports whether the node was invoked as a leaf (only leaves hold
// objects; see the package documentation).
func (n *Node) Holds() bool { return n.Sub == "leaf" }

// LogOp appends one line to ops.jsonl.
func (n *Node) LogOp(op Op) {
	op.T = time.Now().UnixMilli()
	b, err := json.Marshal(op)
	if err != nil {
		return
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.ops != nil {
		_, _ = n.ops.Write(append(b, '\n'))
	}
}

func (n *Node) heldCIDs() []cid.Cid {
	n.mu.Lock()
	defer n.mu.Unlock()
	out := make([]cid.Cid, 0, len(n.held))
	for _, s := range n.held {
		if c, err := cid.Decode(s); err == nil {
			out = append(out, c)
		}
	}
	return out
}

func (n *Node) addHeld(cids []cid.Cid) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, c := range cids {
		s := c.String()
		if i, found := slices.BinarySearch(n.held, s); !found {
			n.held = slices.Insert(n.held, i, s)
		}
	}
	return n.saveHeldLocked()
}

func (n *Node) removeHeld(cids []cid.Cid) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, c := range cids {
		if i, found := slices.BinarySearch(n.held, c.String()); found {
			n.held = slices.Delete(n.held, i, i+1)
		}
	}
	return n.saveHeldLocked()
}

func (n *Node) saveHeldLocked() error {
	b, err := json.Marshal(n.held)
	if err != nil {
		return err
	}
	p := filepath.Join(n.DataDir, ObjectsFile)
	if err := os.WriteFile(p+".tmp", b, 0o644); err != nil {
		return err
	}
	return os.Rename(p+".tmp", p)
}

func (n *Node) loadHeld() error {
	b, err := os.ReadFile(filepath.Join(n.DataDir, ObjectsFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	var held []string
	if err := json.Unmarshal(b, &held); err != nil {
		return fmt.Errorf("%s: %w", ObjectsFile, err)
	}
	slices.Sort(held)
	n.held = slices.Compact(held)
	return nil
}

// parseListen takes the first of comma-separated /ip4/IP/tcp/PORT addresses.
func parseListen(s string) (ip string, port int, err error) {
	first, _, _ := strings.Cut(s, ",")
	parts := strings.Split(strings.TrimSpace(first), "/")
	if len(parts) < 5 || parts[0] != "" || parts[1] != "ip4" || parts[3] != "tcp" {
		return "", 0, fmt.Errorf("--listen %q: want /ip4/IP/tcp/PORT", s)
	}
	if a := net.ParseIP(parts[2]); a == nil || !a.IsLoopback() {
		return "", 0, fmt.Errorf("--listen %q: baselines run on 127.0.0.0/8 only", s)
	}
	port, err = strconv.Atoi(parts[4])
	if err != nil || port < 0 || port > 65535 {
		return "", 0, fmt.Errorf("--listen %q: bad port", s)
	}
	return parts[2], port, nil
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// Main runs one baseline node: `-config FILE supernode|leaf --listen …
// --data DIR --api HOST:PORT [--log-level L] [--local] [--bootstrap …]
// [--supernode …]` (the launcher's classic command line). newBackend
// returns the backend for the config's design.
func Main(args []string, stdout, stderr io.Writer, newBackend func(*Config) (Backend, error)) int {
	top := flag.NewFlagSet("baseline-node", flag.ContinueOnError)
	top.SetOutput(stderr)
	cfgPath := top.String("config", "", "baseline config JSON (required)")
	if err := top.Parse(args); err != nil {
		return 2
	}
	rest := top.Args()
	if *cfgPath == "" || len(rest) == 0 || (rest[0] != "supernode" && rest[0] != "leaf") {
		fmt.Fprintln(stderr, "usage: baseline-node -config FILE supernode|leaf --listen /ip4/IP/tcp/PORT --data DIR --api HOST:PORT [flags]")
		return 2
	}
	sub := rest[0]
	fs := flag.NewFlagSet("baseline-node "+sub, flag.ContinueOnError)
	fs.SetOutput(stderr)
	listen := fs.String("listen", "", "listen multiaddr /ip4/IP/tcp/PORT")
	data := fs.String("data", "", "data directory")
	api := fs.String("api", "", "HTTP API HOST:PORT")
	level := fs.String("log-level", "warn", "debug, info, warn, error")
	fs.Bool("local", false, "accepted for compatibility (ignored)")
	boot := fs.String("bootstrap", "", "peers to join through (multiaddrs)")
	sns := fs.String("supernode", "", "peers to join through (multiaddrs)")
	if err := fs.Parse(rest[1:]); err != nil {
		return 2
	}
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(*level)); err != nil {
		fmt.Fprintf(stderr, "baseline-node: --log-level %q\n", *level)
		return 2
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: lvl}))
	err := run(*cfgPath, sub, *listen, *data, *api, splitList(*boot+","+*sns), log, lvl <= slog.LevelDebug, stdout, newBackend)
	if err != nil {
		fmt.Fprintln(stderr, "baseline-node:", err)
		return 1
	}
	return 0
}

func run(cfgPath, sub, listen, data, api string, peers []string, log *slog.Logger, debug bool, stdout io.Writer, newBackend func(*Config) (Backend, error)) error {
	cfg, err := LoadConfig(cfgPath)
	if err != nil {
		return err
	}
	ip, port, err := parseListen(listen)
	if err != nil {
		return err
	}
	if data == "" || api == "" {
		return errors.New("--data and --api are required")
	}
	if err := os.MkdirAll(data, 0o755); err != nil {
		return err
	}
	n := &Node{Cfg: cfg, Sub: sub, IP: ip, Port: port, DataDir: data, API: api, Peers: peers, Log: log, Debug: debug, start: time.Now()}
	if err := n.loadHeld(); err != nil {
		return err
	}
	n.ops, err = os.OpenFile(filepath.Join(data, OpsFile), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer func() {
		n.mu.Lock()
		n.ops.Close()
		n.ops = nil
		n.mu.Unlock()
	}()
	b, err := newBackend(cfg)
	if err != nil {
		return err
	}
	ctx, cancel := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer cancel()
	startCtx, cancelStart := context.WithTimeout(ctx, 30*time.Second)
	err = b.Start(startCtx, n)
	cancelStart()
	if err != nil {
		_ = b.Close()
		return err
	}
	defer b.Close()
	ln, err := net.Listen("tcp", api)
	if err != nil {
		return fmt.Errorf("--api %s: %w", api, err)
	}
	srv := &http.Server{Handler: n.handler(b), ReadHeaderTimeout: 5 * time.Second}
	served := make(chan struct{})
	go func() {
		defer close(served)
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("API stopped", "err", err)
		}
	}()
	n.LogOp(Op{Op: "start", OK: true, PID: os.Getpid()})
	for _, a := range b.Addrs() {
		fmt.Fprintln(stdout, a)
	}
	var bg sync.WaitGroup
	if n.Holds() && cfg.Refresh > 0 {
		bg.Go(func() { n.refreshLoop(ctx, b) })
	}
	<-ctx.Done()
	cancel()
	sctx, scancel := context.WithTimeout(context.Background(), 2*time.Second)
	_ = srv.Shutdown(sctx)
	scancel()
	<-served
	bg.Wait()
	return nil
}

// refreshLoop re-announces everything held at start (after a restart) and
// every Refresh.
func (n *Node) refreshLoop(ctx context.Context, b Backend) {
	t := time.NewTicker(n.Cfg.Refresh)
	defer t.Stop()
	for {
		if cids := n.heldCIDs(); len(cids) > 0 {
			rctx, cancel := context.WithTimeout(ctx, n.Cfg.Refresh)
			start := time.Now()
			r, err := b.Announce(rctx, cids)
			cancel()
			op := Op{Op: "refresh", OK: err == nil, Objects: len(cids), Replicas: r, DurMS: msSince(start)}
			if err != nil {
				op.Err = err.Error()
			}
			n.LogOp(op)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func msSince(t time.Time) float64 { return float64(time.Since(t).Microseconds()) / 1000 }

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

func writeErr(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, httpapi.Error{Error: msg})
}

func errCode(ctx context.Context, err error) int {
	if ctx.Err() != nil || errors.Is(err, context.DeadlineExceeded) {
		return http.StatusGatewayTimeout
	}
	return http.StatusBadGateway
}

func decodeCIDs(w http.ResponseWriter, r *http.Request) ([]cid.Cid, bool) {
	var req httpapi.AnnounceRequest
	if err := json.NewDecoder(io.LimitReader(r.Body, httpapi.MaxBodySize)).Decode(&req); err != nil {
		writeErr(w, http.StatusBadRequest, "bad body: "+err.Error())
		return nil, false
	}
	if len(req.CIDs) == 0 || len(req.CIDs) > 256 {
		writeErr(w, http.StatusBadRequest, "need 1..256 cids")
		return nil, false
	}
	out := make([]cid.Cid, 0, len(req.CIDs))
	for _, s := range req.CIDs {
		c, err := cid.Decode(s)
		if err != nil {
			writeErr(w, http.StatusBadRequest, fmt.Sprintf("cid %q: %v", s, err))
			return nil, false
		}
		out = append(out, c)
	}
	return out, true
}

func (n *Node) handler(b Backend) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+httpapi.PathStatus, func(w http.ResponseWriter, r *http.Request) {
		st := Status{Design: n.Cfg.Design, Invoked: n.Sub}
		st.PeerID = b.PeerID()
		st.Addrs = b.Addrs()
		n.mu.Lock()
		st.Objects = len(n.held)
		n.mu.Unlock()
		st.UptimeSeconds = time.Since(n.start).Seconds()
		b.Status(&st)
		writeJSON(w, http.StatusOK, st)
	})
	mux.HandleFunc("GET "+httpapi.PathObjects, func(w http.ResponseWriter, r *http.Request) {
		n.mu.Lock()
		held := slices.Clone(n.held)
		n.mu.Unlock()
		writeJSON(w, http.StatusOK, httpapi.ObjectsResponse{CIDs: held})
	})
	mux.HandleFunc("POST "+httpapi.PathAnnounce, func(w http.ResponseWriter, r *http.Request) {
		cids, ok := decodeCIDs(w, r)
		if !ok {
			return
		}
		if !n.Holds() {
			// Like a supertracker supernode in classic mode: only leaves
			// hold objects (see the package documentation).
			writeErr(w, http.StatusNotImplemented, "announce is served by leaves; this node runs as a supernode")
			return
		}
		start := time.Now()
		replicas, err := b.Announce(r.Context(), cids)
		op := Op{Op: "announce", OK: err == nil, Objects: len(cids), Replicas: replicas, DurMS: msSince(start)}
		if err != nil {
			op.Err = err.Error()
			n.LogOp(op)
			writeErr(w, errCode(r.Context(), err), err.Error())
			return
		}
		n.LogOp(op)
		if err := n.addHeld(cids); err != nil {
			writeErr(w, http.StatusInternalServerError, err.Error())
			return
		}
		writeJSON(w, http.StatusOK, httpapi.AnnounceResponse{Accepted: len(cids), Replicas: replicas})
	})
	mux.HandleFunc("POST "+httpapi.PathWithdraw, func(w http.ResponseWriter, r *http.Request) {
		cids, ok := decodeCIDs(w, r)
		if !ok {
			return
		}
		if err := n.removeHeld(cids); err != nil {
			writeErr(w, http.StatusInternalServerError, err.Error())
			return
		}
		writeJSON(w, http.StatusOK, httpapi.AnnounceResponse{Accepted: len(cids)})
	})
	mux.HandleFunc("GET "+httpapi.PathLookup, func(w http.ResponseWriter, r *http.Request) {
		c, err := cid.Decode(r.URL.Query().Get("cid"))
		if err != nil {
			writeErr(w, http.StatusBadRequest, "bad cid: "+err.Error())
			return
		}
		limit := n.Cfg.NumWant
		if s := r.URL.Query().Get("limit"); s != "" {
			if v, err := strconv.Atoi(s); err == nil && v > 0 {
				limit = min(v, n.Cfg.NumWant)
			}
		}
		ctx, cancel := context.WithTimeout(r.Context(), n.Cfg.LookupWait)
		defer cancel()
		start := time.Now()
		holders, info, err := b.Lookup(ctx, c, limit)
		op := Op{Op: "lookup", OK: err == nil, Providers: len(holders), RPCs: info.RPCs, Trackers: info.Trackers, DurMS: msSince(start),
			FirstMS: float64(info.First.Microseconds()) / 1000}
		if err != nil {
			op.Err = err.Error()
			n.LogOp(op)
			writeErr(w, errCode(ctx, err), err.Error())
			return
		}
		n.LogOp(op)
		if holders == nil {
			holders = []httpapi.Holder{}
		}
		writeJSON(w, http.StatusOK, httpapi.LookupResponse{CID: c.String(), Holders: holders})
	})
	return mux
}
