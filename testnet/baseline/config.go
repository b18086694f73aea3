package baseline

import (
	"bufio"
	"bytes"
	"crypto/ed25519"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/supertracker/supertracker/testnet/workload"
)

// Designs a helper process can run.
const (
	DesignServer  = "server"
	DesignFlatDHT = "flatdht"
)

// BitTorrent ports of the server design's clients: a holder announces
// from HolderPort, a lookup from LookupPort (so lookups do not make the
// looker a holder).
const (
	HolderPort = 6881
	LookupPort = 6882
)

// Files a helper node keeps in its data directory.
const (
	OpsFile     = "ops.jsonl"        // one line per announce / lookup / refresh
	ObjectsFile = "objects.json"     // what the node holds (survives restarts)
	PIDsFile    = "opentracker.pids" // every opentracker PID started, one per line
	// flatdht: the libp2p key, identity.File (package protocol/identity)
)

// Server is one tracker of the server design.
type Server struct {
	IP   string `json:"ip"`
	Port int    `json:"port"`
	// CapPort, with Config.ServiceRate: the port of the service-capped
	// proxy lookups go through (announces go to Port directly, so the
	// tracker sees each holder's own address).
	CapPort int `json:"cap_port,omitempty"`
}

// AnnounceURL is the tracker's HTTP announce URL.
func (s Server) AnnounceURL() string {
	return "http://" + net.JoinHostPort(s.IP, strconv.Itoa(s.Port)) + "/announce"
}

// LookupURL is where lookups go: the capped proxy if there is one.
func (s Server) LookupURL() string {
	if s.CapPort > 0 {
		return "http://" + net.JoinHostPort(s.IP, strconv.Itoa(s.CapPort)) + "/announce"
	}
	return s.AnnounceURL()
}

// Config is what the helper reads from -config.
type Config struct {
	Design string `json:"design"` // DesignServer or DesignFlatDHT
	// Refresh: a holder re-announces everything it holds this often (and
	// once at start). 0 disables it.
	Refresh time.Duration `json:"refresh_ns"`
	// LookupWait bounds one lookup inside the node; it answers with what it
	// found by then (set it a little below the launcher's lookup timeout).
	LookupWait time.Duration `json:"lookup_wait_ns"`
	// NumWant: holders asked for per lookup (BitTorrent numwant, the count
	// of FindProvidersAsync). Default 50.
	NumWant int `json:"num_want"`

	// Server design.
	Opentracker string   `json:"opentracker,omitempty"` // binary (default "opentracker" in PATH)
	Servers     []Server `json:"servers,omitempty"`     // the n trackers, in order
	Whitelist   string   `json:"whitelist,omitempty"`   // file of hex infohashes, one per line
	// StatsFrom is the address the hosting node queries opentracker's
	// /stats from (blessed with -A); default 127.0.0.1.
	StatsFrom string `json:"stats_from,omitempty"`
	// ServiceRate > 0 caps every tracker at this many lookups/s (package
	// testnet/capped: an M/M/1 server in a proxy on Server.CapPort), as
	// the load sweep needs; 0: no cap.
	ServiceRate float64 `json:"service_rate,omitempty"`
	// ServiceQueue, with ServiceRate: at most this many lookups in a
	// tracker's queue (the paper's M/M/1/h); more get 503 at once; 0:
	// unbounded.
	ServiceQueue int `json:"service_queue,omitempty"`
	// LookupFailover: a lookup asks one tracker at a time, in an order
	// shuffled per lookup, and moves on when one fails (BEP 12: a client
	// shuffles a tier and tries its trackers in order), instead of asking
	// all n at once; each tracker then sees λ/n, as the paper's server
	// model has it.
	LookupFailover bool `json:"lookup_failover,omitempty"`

	// Flat DHT design.
	BucketSize int    `json:"bucket_size,omitempty"` // kad-dht k (replication); 0: kad-dht default (20)
	Prefix     string `json:"prefix,omitempty"`      // protocol prefix; default /flatdht
}

// DefaultPrefix is the flat DHT's protocol prefix.
const DefaultPrefix = "/flatdht"

// Validate checks c and fills defaults.
func (c *Config) Validate() error {
	switch c.Design {
	case DesignServer:
		if len(c.Servers) == 0 {
			return errors.New("baseline config: server design needs servers")
		}
		for i, s := range c.Servers {
			ip := net.ParseIP(s.IP)
			if ip == nil || !ip.IsLoopback() || s.Port <= 0 || s.Port > 65535 {
				return fmt.Errorf("baseline config: servers[%d] = %s:%d is not a loopback address and port", i, s.IP, s.Port)
			}
		}
		if c.Whitelist == "" {
			return errors.New("baseline config: server design needs a whitelist file")
		}
		if c.Opentracker == "" {
			c.Opentracker = "opentracker"
		}
		if c.StatsFrom == "" {
			c.StatsFrom = "127.0.0.1"
		}
	case DesignFlatDHT:
		if c.BucketSize < 0 {
			return errors.New("baseline config: bucket_size must be ≥ 0")
		}
		if c.Prefix == "" {
			c.Prefix = DefaultPrefix
		}
	default:
		return fmt.Errorf("baseline config: design %q is not %q or %q", c.Design, DesignServer, DesignFlatDHT)
	}
	if c.Refresh < 0 || c.LookupWait < 0 || c.NumWant < 0 {
		return errors.New("baseline config: negative refresh, lookup_wait or num_want")
	}
	if c.LookupWait == 0 {
		c.LookupWait = 4 * time.Second
	}
	if c.NumWant == 0 {
		c.NumWant = 50
	}
	return nil
}

// LoadConfig reads and validates a config file.
func LoadConfig(path string) (*Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var c Config
	if err := dec.Decode(&c); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &c, nil
}

// WriteConfig writes c as JSON to path.
func WriteConfig(path string, c *Config) error {
	b, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

// WriteWrapper writes an executable shell script at path that runs
// `exe args… "$@"`: the launcher's Binary for a baseline (exe is the
// helper, args e.g. "baseline-node", "-config", CFG). exec keeps the PID.
func WriteWrapper(path, exe string, args ...string) error {
	var b strings.Builder
	b.WriteString("#!/bin/sh\nexec ")
	b.WriteString(shellQuote(exe))
	for _, a := range args {
		b.WriteString(" ")
		b.WriteString(shellQuote(a))
	}
	b.WriteString(" \"$@\"\n")
	return os.WriteFile(path, []byte(b.String()), 0o755)
}

func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// InfoHash maps an object's CID to the 20-byte BitTorrent infohash the
// server design announces: SHA-1 of the CID's binary form.
func InfoHash(c cid.Cid) [20]byte { return sha1.Sum(c.Bytes()) }

// Whitelist returns opentracker's access.whitelist for the workload's
// objects 0..objects-1: one hex infohash per line.
func Whitelist(objects int) []byte {
	var b bytes.Buffer
	for i := range objects {
		h := InfoHash(workload.ObjectCID(i))
		b.WriteString(hex.EncodeToString(h[:]))
		b.WriteByte('\n')
	}
	return b.Bytes()
}

// PeerIDForIP is the peer ID a server-design node uses: derived from an
// Ed25519 key seeded with SHA-256 of its IP, so that a client that gets a
// holder's IP from a tracker names the same peer ID that node printed.
func PeerIDForIP(ip string) (peer.ID, error) {
	seed := sha256.Sum256([]byte("supertracker-baseline-server/" + ip))
	priv := ed25519.NewKeyFromSeed(seed[:])
	k, err := crypto.UnmarshalEd25519PrivateKey(priv)
	if err != nil {
		return "", err
	}
	return peer.IDFromPrivateKey(k)
}

// Op is one line of a node's ops.jsonl.
type Op struct {
	T         int64   `json:"t_unix_ms"`
	Op        string  `json:"op"` // "start", "announce", "refresh", "lookup"
	OK        bool    `json:"ok"`
	Objects   int     `json:"objects,omitempty"`   // announce / refresh
	Replicas  int     `json:"replicas,omitempty"`  // trackers that took an announce
	Providers int     `json:"providers,omitempty"` // lookup: holders returned
	RPCs      int     `json:"rpcs,omitempty"`      // flatdht lookup: DHT requests sent
	Trackers  int     `json:"trackers,omitempty"`  // server lookup: trackers that answered
	DurMS     float64 `json:"dur_ms"`
	FirstMS   float64 `json:"first_ms,omitempty"` // flatdht lookup: the first provider arrived after
	Err       string  `json:"err,omitempty"`
	PID       int     `json:"pid,omitempty"` // start: the node process
}

// OpsSummary totals a set of ops logs.
type OpsSummary struct {
	Starts         int     `json:"starts"`
	Announces      int     `json:"announces"`
	AnnouncesOK    int     `json:"announces_ok"`
	Refreshes      int     `json:"refreshes"`
	Lookups        int     `json:"lookups"` // FindProvidersAsync calls (flatdht) / tracker queries (server)
	LookupsOK      int     `json:"lookups_ok"`
	ProvidersFound int     `json:"providers_found"`
	LookupsFound   int     `json:"lookups_found"` // lookups that returned ≥ 1 holder
	RPCs           int     `json:"rpcs"`
	RPCsPerLookup  float64 `json:"rpcs_per_lookup"`
}

// ReadOps reads DIR/ops.jsonl of every node data directory under nodesDir
// (one subdirectory per node) and totals them.
func ReadOps(nodesDir string) (OpsSummary, error) {
	var s OpsSummary
	ents, err := os.ReadDir(nodesDir)
	if err != nil {
		return s, err
	}
	for _, e := range ents {
		if !e.IsDir() {
			continue
		}
		f, err := os.Open(filepath.Join(nodesDir, e.Name(), OpsFile))
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return s, err
		}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			var op Op
			if json.Unmarshal(sc.Bytes(), &op) != nil {
				continue // a line cut by a SIGKILL
			}
			switch op.Op {
			case "start":
				s.Starts++
			case "announce":
				s.Announces++
				if op.OK {
					s.AnnouncesOK++
				}
			case "refresh":
				s.Refreshes++
			case "lookup":
				s.Lookups++
				if op.OK {
					s.LookupsOK++
				}
				s.ProvidersFound += op.Providers
				if op.Providers > 0 {
					s.LookupsFound++
				}
				s.RPCs += op.RPCs
			}
		}
		f.Close()
	}
	if s.Lookups > 0 {
		s.RPCsPerLookup = float64(s.RPCs) / float64(s.Lookups)
	}
	return s, nil
}

// ServerPIDs returns the opentracker PIDs recorded under nodesDir, per node
// directory name, in start order.
func ServerPIDs(nodesDir string) (map[string][]int, error) {
	out := map[string][]int{}
	ents, err := os.ReadDir(nodesDir)
	if err != nil {
		return nil, err
	}
	for _, e := range ents {
		if !e.IsDir() {
			continue
		}
		b, err := os.ReadFile(filepath.Join(nodesDir, e.Name(), PIDsFile))
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		for _, line := range strings.Fields(string(b)) {
			pid, err := strconv.Atoi(line)
			if err != nil || pid <= 0 {
				return nil, fmt.Errorf("%s: bad pid %q", e.Name(), line)
			}
			out[e.Name()] = append(out[e.Name()], pid)
		}
	}
	return out, nil
}
