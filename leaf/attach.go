package leaf

import (
	"errors"
	"math/rand/v2"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	libp2pprotocol "github.com/libp2p/go-libp2p/core/protocol"
	"github.com/libp2p/go-libp2p/p2p/protocol/ping"
	"github.com/multiformats/go-multistream"

	"github.com/supertracker/supertracker/protocol"
	"github.com/supertracker/supertracker/protocol/pb"
)

func attachRequest(primary bool, gossip []*pb.Peer) *pb.Request {
	return &pb.Request{Body: &pb.Request_Attach{Attach: &pb.AttachRequest{Primary: primary, Supernodes: gossip}}}
}

func heartbeatRequest(primary bool, gossip []*pb.Peer) *pb.Request {
	return &pb.Request{Body: &pb.Request_Heartbeat{Heartbeat: &pb.HeartbeatRequest{Primary: primary, Supernodes: gossip}}}
}

func detachRequest() *pb.Request {
	return &pb.Request{Body: &pb.Request_Detach{Detach: &pb.DetachRequest{}}}
}

func supernodesRequest() *pb.Request {
	return &pb.Request{Body: &pb.Request_Supernodes{Supernodes: &pb.SupernodesRequest{}}}
}

// attach (re)attaches to s as primary or backup; the attach times out after
// one heartbeat interval.
func (a *Agent) attach(s *session, primary bool) error {
	resp, err := s.call(a.ctx, attachRequest(primary, a.gossip(s.info.ID)), s.heartbeatInterval())
	if err != nil {
		return err
	}
	at := resp.GetAttach()
	s.attached(at)
	if ttl := time.Duration(at.GetRecordTtlMs()) * time.Millisecond; ttl > 0 && primary {
		a.mu.Lock()
		a.ttl = ttl
		a.mu.Unlock()
	}
	return nil
}

// heartbeats beats s every interval it asked for, on the agent's tick grid
// (nextTick), or at once when probed, until the session ends. A heartbeat
// times out after one interval, so a silent supernode is dropped within
// two.
func (a *Agent) heartbeats(s *session) {
	defer a.wg.Done()
	t := a.clock.Timer(a.nextTick(a.beatInterval(s)))
	defer t.Stop()
	for {
		select {
		case <-a.ctx.Done():
			return
		case <-s.ctx.Done():
			return
		case <-t.C:
		case <-s.kick:
		}
		if err := a.heartbeat(s); err != nil {
			switch faultOf(err) {
			case faultSupernode:
				if a.lost(s, err) {
					return
				}
			case faultCaller:
				return // the agent is closing
			}
			a.cfg.Logger.Debug("heartbeat failed", "peer", s.info.ID, "err", err)
		}
		t.Reset(a.nextTick(a.beatInterval(s)))
	}
}

// beatInterval is how long s's heartbeat loop waits between beats: the
// interval the supernode asked for when s is the primary, and
// protocol.BackupHeartbeatFactor times that when it is a backup (a backup
// is asked to answer again before it is promoted; promote beats at once).
func (a *Agent) beatInterval(s *session) time.Duration {
	iv := s.heartbeatInterval()
	if !a.isPrimary(s) {
		iv *= protocol.BackupHeartbeatFactor
	}
	return iv
}

// startHeartbeats starts s's heartbeat loop once.
func (a *Agent) startHeartbeats(s *session) {
	s.loopOnce.Do(func() {
		a.mu.Lock()
		defer a.mu.Unlock()
		if a.closed {
			return
		}
		a.wg.Add(1)
		go a.heartbeats(s)
	})
}

func (a *Agent) heartbeat(s *session) error {
	primary := a.isPrimary(s)
	var gossip []*pb.Peer
	if s.nextBeat() {
		gossip = a.gossip(s.info.ID)
	}
	resp, err := s.call(a.ctx, heartbeatRequest(primary, gossip), s.heartbeatInterval())
	if errors.Is(err, protocol.ErrNotAttached) {
		// The supernode forgot us (restart, session timeout): attach again.
		return a.attach(s, primary)
	}
	if err != nil {
		return err
	}
	s.setLoad(resp.GetHeartbeat().GetLoad())
	return nil
}

func (a *Agent) isPrimary(s *session) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.primary == s
}

// charge holds a failure against the supernode whose it is (faultOf says
// faultSupernode): NOT_ATTACHED makes its heartbeat attach again, anything
// else drops it.
func (a *Agent) charge(s *session, err error) {
	switch {
	case errors.Is(err, protocol.ErrNotAttached):
		s.probe()
	case errors.Is(err, errDropped):
		// Already dropped.
	default:
		a.lost(s, err)
	}
}

// lost drops a supernode that failed: the primary (a new one is elected at
// once) or a backup. It backs off for ten heartbeat intervals. A primary
// that only timed out is kept while no backup is attached.
func (a *Agent) lost(s *session, why error) (dropped bool) {
	a.mu.Lock()
	if a.primary == s && len(a.backups) == 0 && errors.Is(why, ErrTimeout) {
		// The only supernode attached is slow (overloaded, flooded), not
		// gone: a slow one serves, none does not. It is kept until a
		// backup attaches (fillBackups keeps looking); a reset or a
		// closed connection still drops it.
		a.mu.Unlock()
		a.cfg.Logger.Debug("only supernode slow; kept", "peer", s.info.ID, "err", why)
		return false
	}
	wasPrimary := a.primary == s
	wasBackup := slices.Contains(a.backups, s)
	if wasPrimary {
		a.primary = nil
		a.failovers++
		a.changedLocked()
	} else {
		a.backups = slices.DeleteFunc(a.backups, func(b *session) bool { return b == s })
	}
	if wasPrimary || wasBackup {
		a.failedUntil[s.info.ID] = a.clock.Now().Add(10 * a.cfg.HeartbeatInterval)
		a.noteTryLocked(s.info, why)
	}
	a.mu.Unlock()
	s.close()
	switch {
	case wasPrimary:
		a.cfg.Logger.Info("lost primary supernode", "peer", s.info.ID, "err", why)
		a.poke()
	case wasBackup:
		a.cfg.Logger.Debug("lost backup supernode", "peer", s.info.ID, "err", why)
		a.poke() // find another backup now, not at the next settled round
	}
	return true
}

// electPrimary promotes the lowest-RTT backup that answers, or else attaches
// to the lowest-RTT known supernode (then any peer met). It reports whether
// there is a primary.
func (a *Agent) electPrimary() bool {
	a.mu.Lock()
	backups := slices.Clone(a.backups)
	a.mu.Unlock()
	// Silent backups last: promoting one would only wait for its timeout.
	sort.SliceStable(backups, func(i, j int) bool {
		si, sj := backups[i].silent(), backups[j].silent()
		if si != sj {
			return !si
		}
		return backups[i].rtt < backups[j].rtt
	})
	for _, b := range backups {
		if err := a.attach(b, true); err != nil {
			if a.ctx.Err() != nil {
				return false
			}
			a.lost(b, err)
			continue
		}
		if a.promote(b) {
			return true
		}
	}
	for _, fromSeen := range []bool{false, true} {
		// Known supernodes first; if none answers (they all failed), any
		// peer met so far may have been elected supernode since.
		cands := a.candidates(fromSeen)
		for i, s := range cands {
			err := a.attach(s, true)
			if err == nil {
				a.adopt(s, true)
				a.release(cands[i+1:])
				return true
			}
			a.refused(s, err)
		}
	}
	return false
}

// promote makes backup s the primary; false if s was dropped meanwhile.
func (a *Agent) promote(s *session) bool {
	a.mu.Lock()
	if !slices.Contains(a.backups, s) || a.closed {
		a.mu.Unlock()
		return false
	}
	a.backups = slices.DeleteFunc(a.backups, func(b *session) bool { return b == s })
	a.primary = s
	a.newRouteLocked()
	a.changedLocked()
	a.mu.Unlock()
	s.probe() // its heartbeat loop waits a backup's interval: beat as the primary now
	a.cfg.Logger.Info("promoted backup supernode to primary", "peer", s.info.ID, "rtt", s.rtt)
	return true
}

// adopt makes a freshly attached session the primary or a backup and starts
// its heartbeats.
func (a *Agent) adopt(s *session, primary bool) {
	a.mu.Lock()
	delete(a.pending, s.info.ID)
	delete(a.tries, s.info.ID)
	if a.closed || (primary && a.primary != nil) {
		a.mu.Unlock()
		s.close()
		return
	}
	a.known[s.info.ID] = s.info
	if primary {
		a.primary = s
		a.newRouteLocked()
		a.changedLocked()
	} else {
		a.backups = append(a.backups, s)
	}
	a.mu.Unlock()
	a.startHeartbeats(s)
	if primary {
		a.cfg.Logger.Info("attached to primary supernode", "peer", s.info.ID, "rtt", s.rtt)
	}
}

// release closes candidate sessions that were measured but not used.
func (a *Agent) release(cands []*session) {
	a.mu.Lock()
	for _, s := range cands {
		delete(a.pending, s.info.ID)
	}
	a.mu.Unlock()
	for _, s := range cands {
		s.close()
	}
}

// refused handles a failed attach: a supernode at capacity is asked where
// else to go; every refusal backs off.
func (a *Agent) refused(s *session, err error) {
	if errors.Is(err, protocol.ErrOverCapacity) {
		a.discoverFrom(s)
	}
	backoff := 10 * a.cfg.HeartbeatInterval
	if errors.Is(err, multistream.ErrNotSupported[libp2pprotocol.ID]{}) {
		// Not a supernode (yet): when every supernode failed, the peers
		// met are where new ones get elected, so ask again soon.
		backoff = 5 * a.cfg.HeartbeatInterval
	}
	a.mu.Lock()
	delete(a.pending, s.info.ID)
	if a.ctx.Err() == nil {
		a.failedUntil[s.info.ID] = a.clock.Now().Add(backoff)
		a.noteTryLocked(s.info, err)
	}
	a.mu.Unlock()
	a.cfg.Logger.Debug("attach refused", "peer", s.info.ID, "err", err, "retry_in", backoff)
	s.close()
}

// fillBackups attaches to more supernodes until m backups are attached.
func (a *Agent) fillBackups() {
	for _, fromSeen := range []bool{false, true} {
		a.mu.Lock()
		need := a.cfg.Backups - len(a.backups)
		a.mu.Unlock()
		if need <= 0 {
			return
		}
		cands := a.candidates(fromSeen)
		for i, s := range cands {
			if need == 0 {
				a.release(cands[i:])
				return
			}
			if err := a.attach(s, false); err != nil {
				a.refused(s, err)
				continue
			}
			a.adopt(s, false)
			need--
		}
	}
}

// gossip lists the other supernodes this leaf is attached to, for the
// supernode `to` (see pb.HeartbeatRequest).
func (a *Agent) gossip(to peer.ID) []*pb.Peer {
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []*pb.Peer
	for _, s := range a.attachedLocked() {
		if s.info.ID != to && len(out) < protocol.MaxGossipPeers {
			out = append(out, a.cfg.Limits.PeerToPB(s.info))
		}
	}
	return out
}

// maxSeen bounds the cache of peers met; maxSeenTries bounds how many of
// them one round tries.
const (
	maxSeen      = 256
	maxSeenTries = 8
)

// noteSeen remembers peers met, as fallback candidates.
func (a *Agent) noteSeen(ps []peer.AddrInfo) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, p := range ps {
		if p.ID == a.host.ID() || len(p.Addrs) == 0 {
			continue
		}
		if _, ok := a.seen[p.ID]; !ok && len(a.seen) >= maxSeen {
			for k := range a.seen { // evict an arbitrary one
				delete(a.seen, k)
				delete(a.tries, k)
				break
			}
		}
		a.seen[p.ID] = p
	}
}

// Seen returns the supernodes known and the other peers met.
func (a *Agent) Seen() []peer.AddrInfo {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := make([]peer.AddrInfo, 0, len(a.known)+len(a.seen))
	for _, p := range a.known {
		out = append(out, p)
	}
	for id, p := range a.seen {
		if a.known[id].ID == "" {
			out = append(out, p)
		}
	}
	return out
}

// candidates measures every known supernode (or peer met) that is not
// attached, being attached, or backing off, and returns the reachable ones
// by RTT, lowest first. They are pending until adopted, refused or released.
func (a *Agent) candidates(fromSeen bool) []*session {
	now := a.clock.Now()
	a.mu.Lock()
	pool := a.known
	if fromSeen {
		pool = a.seen
	}
	// A caller waiting for a primary makes the first round after it retry
	// the known supernodes at once (at most once a heartbeat interval).
	urgent := !fromSeen && a.urgent && now.Sub(a.lastUrgent) >= a.cfg.HeartbeatInterval
	if urgent {
		a.urgent, a.lastUrgent = false, now
	}
	attached := map[peer.ID]bool{}
	for _, s := range a.attachedLocked() {
		attached[s.info.ID] = true
	}
	var infos []peer.AddrInfo
	for id, info := range pool {
		if (fromSeen && a.known[id].ID != "") || attached[id] || a.pending[id] {
			continue
		}
		if !urgent && now.Before(a.failedUntil[id]) {
			continue
		}
		infos = append(infos, info)
	}
	if fromSeen && len(infos) > maxSeenTries {
		// Peers met are mostly leaves: try a few at random per round.
		rand.Shuffle(len(infos), func(i, j int) { infos[i], infos[j] = infos[j], infos[i] })
		infos = infos[:maxSeenTries]
	}
	for _, info := range infos {
		a.pending[info.ID] = true
	}
	a.mu.Unlock()
	out := make([]*session, len(infos))
	var wg sync.WaitGroup
	for i, info := range infos {
		wg.Go(func() { out[i] = a.measure(info) })
	}
	wg.Wait()
	out = slices.DeleteFunc(out, func(s *session) bool { return s == nil })
	sort.Slice(out, func(i, j int) bool { return out[i].rtt < out[j].rtt })
	return out
}

// measure connects to a supernode and measures its RTT with libp2p ping;
// nil (and the supernode backing off) if it cannot.
func (a *Agent) measure(info peer.AddrInfo) *session {
	a.busy.Add(1)
	defer a.busy.Add(-1)
	ctx, cancel := a.clock.WithTimeout(a.ctx, a.cfg.DialTimeout)
	defer cancel()
	fail := func(err error) *session {
		a.mu.Lock()
		delete(a.pending, info.ID)
		if a.ctx.Err() == nil {
			a.failedUntil[info.ID] = a.clock.Now().Add(10 * a.cfg.HeartbeatInterval)
			a.noteTryLocked(info, err)
		}
		a.mu.Unlock()
		return nil
	}
	a.host.Peerstore().AddAddrs(info.ID, info.Addrs, 10*time.Minute)
	if err := a.host.Connect(ctx, info); err != nil {
		return fail(err)
	}
	select {
	case res := <-ping.Ping(ctx, a.host, info.ID):
		if res.Error != nil {
			return fail(res.Error)
		}
		return a.newSession(info, res.RTT)
	case <-ctx.Done():
		return fail(ctx.Err())
	}
}

// discover asks the primary for more supernodes.
func (a *Agent) discover() {
	a.mu.Lock()
	p := a.primary
	a.mu.Unlock()
	if p != nil {
		a.discoverFrom(p)
	}
}

// discoverFrom asks supernode s for the supernodes and peers it knows.
func (a *Agent) discoverFrom(s *session) {
	resp, err := s.call(a.ctx, supernodesRequest(), a.cfg.RequestTimeout)
	if err != nil {
		if faultOf(err) == faultSupernode && a.sessionOf(s.info.ID) == s {
			a.charge(s, err)
		}
		return
	}
	var peers []peer.AddrInfo
	for _, sp := range resp.GetSupernodes().GetPeers() {
		if info, err := a.cfg.Limits.PeerFromPB(sp); err == nil {
			peers = append(peers, info)
		}
	}
	a.noteSeen(peers)
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, sp := range resp.GetSupernodes().GetSupernodes() {
		info, err := a.cfg.Limits.PeerFromPB(sp)
		if err == nil && info.ID != a.host.ID() {
			a.known[info.ID] = info
		}
	}
}

// AddSupernodes adds supernodes to the known set (e.g. from a hand-over).
func (a *Agent) AddSupernodes(ps ...peer.AddrInfo) {
	a.mu.Lock()
	for _, p := range ps {
		if p.ID != a.host.ID() {
			a.known[p.ID] = p
		}
	}
	a.mu.Unlock()
	a.poke()
}
