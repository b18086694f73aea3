package attack

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/supertracker/supertracker/protocol/pb"
	"github.com/supertracker/supertracker/supernode"
)

// The replica-store path is the other way records enter a supernode: any
// peer may declare itself a supernode, and a replica takes signed
// announcements of any leaf from it. An attacker with a few self-certified
// identities on one prefix pushes announcements signed by throwaway leaf
// keys (a fresh key per 128 CIDs, so no records-per-leaf cap binds) to one
// supernode. The leaf path bounds a prefix to CIDsPerSecond.PerPrefix; the
// store path must bound it too (at ten times that: replicas take many
// leaves' records from each supernode).

// storeBatch is the CIDs per store request: 128 with their proofs fit a
// 64 KiB frame (256 do not).
const storeBatch = 128

// StoreFloodConfig sizes the replica-store flood.
type StoreFloodConfig struct {
	Senders  int           // self-certified senders on one /32 (default 4)
	Duration time.Duration // default 5 s
}

// RunStoreFlood runs it against a supernode with the Internet budgets.
func RunStoreFlood(ctx context.Context, cfg StoreFloodConfig) Row {
	if cfg.Senders == 0 {
		cfg.Senders = 4
	}
	if cfg.Duration == 0 {
		cfg.Duration = 5 * time.Second
	}
	name := fmt.Sprintf("replica-store flood: %d self-certified senders on one /32, throwaway leaf keys, %s", cfg.Senders, cfg.Duration)
	r, err := runStoreFlood(ctx, cfg)
	if err != nil {
		r = Failed(4, name, err)
	}
	r.Point, r.Attack = 4, name
	return r
}

func runStoreFlood(ctx context.Context, cfg StoreFloodConfig) (Row, error) {
	lab := NewLab()
	defer lab.Close()
	scfg := SupernodeConfig(2)
	def := supernode.DefaultConfig()
	scfg.CIDsPerSecond, scfg.RequestsPerSecond, scfg.RequestBurst = def.CIDsPerSecond, def.RequestsPerSecond, def.RequestBurst
	sns, err := lab.Supernodes(ctx, 2, scfg) // 2r ≥ 2: the victim takes every CID
	if err != nil {
		return Row{}, err
	}
	victim := sns[0]
	ip := FreshIP()
	before := victim.Stats().Records
	fctx, cancel := context.WithTimeout(ctx, cfg.Duration)
	defer cancel()
	var (
		wg        sync.WaitGroup
		sent, acc atomic.Int64
		ferr      error
		once      sync.Once
	)
	start := time.Now()
	for range cfg.Senders {
		h, err := lab.HostAt(ip, nil)
		if err != nil {
			return Row{}, err
		}
		pc, err := DialPeer(ctx, h, victim.AddrInfo())
		if err != nil {
			return Row{}, err
		}
		if resp, err := pc.Hello(h); err != nil || resp.Status != pb.Status_OK {
			return Row{}, fmt.Errorf("hello: %v %v", err, resp.GetError())
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer pc.Close()
			for i := 0; fctx.Err() == nil; i++ {
				k, _, err := crypto.GenerateEd25519Key(nil)
				if err != nil {
					once.Do(func() { ferr = err })
					return
				}
				id, _ := peer.IDFromPrivateKey(k)
				cs := make([]cid.Cid, storeBatch)
				for j := range cs {
					cs[j] = NamedCID(fmt.Sprintf("storeflood/%s/%d", id, j))
				}
				env, err := Seal(Signed{Peer: id, Key: k, Seq: 1, Expires: time.Now().Add(6 * 24 * time.Hour)}, cs)
				if err != nil {
					once.Do(func() { ferr = err })
					return
				}
				resp, err := pc.Store(env, Entries(cs))
				if err != nil {
					return
				}
				sent.Add(storeBatch)
				if ok, _ := stored(resp); ok {
					acc.Add(storeBatch)
				}
			}
		}()
	}
	wg.Wait()
	if ferr != nil {
		return Row{}, ferr
	}
	el := time.Since(start)
	got := victim.Stats().Records - before
	rate := float64(got) / el.Seconds()
	bound := 10 * def.CIDsPerSecond.PerPrefix
	allowed := int(bound*el.Seconds()) + int(bound) // budget plus one second's burst
	out := fmt.Sprintf("%d records stored from one prefix in %s (%.0f/s; the leaf path allows a prefix %.0f/s), signed to live %s",
		got, el.Round(100*time.Millisecond), rate, def.CIDsPerSecond.PerPrefix, 6*24*time.Hour)
	return Row{Attempts: int(sent.Load()), Unit: "CIDs", Successes: got, Outcome: out,
		Bound: fmt.Sprintf("≤ %.0f CIDs/s per prefix (10× a prefix's leaf budget)", bound), Pass: got <= allowed}, nil
}
