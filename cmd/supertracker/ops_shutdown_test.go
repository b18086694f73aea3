package main

import (
	"fmt"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"
)

// Graceful shutdown with the real binary: SIGTERM to the supernode a leaf
// uses as primary makes it hand the leaf over (the leaf moves to the other
// supernode before the process exits) and exit 0; SIGTERM to the leaf
// makes it detach (the supernode forgets it at once, long before its
// session would time out) and exit 0.
func TestGracefulShutdown(t *testing.T) {
	bin := binary(t)
	dir := t.TempDir()
	// Sessions would only time out after a minute: whatever ends them
	// sooner is the hand-over or the detach. (Set through the environment,
	// which the config layer reads.)
	env := []string{"SUPERTRACKER_SESSION_TIMEOUT=60s"}
	sn := []*opsProc{
		newOpsProc(t, dir, "sn0", "supernode", opsIP(21), "0", "--local"),
		newOpsProc(t, dir, "sn1", "supernode", opsIP(22), "0", "--local"),
	}
	sn[0].env = env
	sn[0].start(t, bin)
	sn[1].args = append(sn[1].args, "--bootstrap", sn[0].addr())
	sn[1].env = env
	sn[1].start(t, bin)
	lf := newOpsProc(t, dir, "leaf", "leaf", opsIP(23), "0", "--supernode", sn[0].addr()+","+sn[1].addr())
	lf.start(t, bin)

	// The leaf attaches to both: one primary, one backup.
	var primary, backup *opsProc
	poll(t, 30*time.Second, "leaf attached to both supernodes", func() (bool, string) {
		st, err := lf.client().Status(t.Context())
		if err != nil {
			return false, err.Error()
		}
		if len(st.Supernodes) < 2 {
			return false, fmt.Sprintf("attached to %v", st.Supernodes)
		}
		for i, s := range sn {
			if st.Supernodes[0] == s.addr() {
				primary, backup = s, sn[1-i]
			}
		}
		return primary != nil, fmt.Sprintf("primary %s", st.Supernodes[0])
	})
	obj := opsCID("shutdown", 1)
	if r, err := lf.client().Announce(t.Context(), []string{obj}); err != nil || r.Replicas != 2 {
		t.Fatalf("announce: %v %+v", err, r)
	}

	took := primary.stop(t, 30*time.Second)
	log := tail(primary.log)
	if !strings.Contains(log, "leaves handed over") {
		t.Fatalf("%s did not hand its leaf over before exiting:\n%s", primary.name, log)
	}
	t.Logf("%s: SIGTERM → exit 0 in %s, leaf handed over", primary.name, took.Round(time.Millisecond))
	if took > 15*time.Second {
		t.Errorf("shutdown took %s", took)
	}
	poll(t, 15*time.Second, "leaf's primary is the other supernode", func() (bool, string) {
		st, err := lf.client().Status(t.Context())
		if err != nil {
			return false, err.Error()
		}
		return len(st.Supernodes) > 0 && st.Supernodes[0] == backup.addr(), fmt.Sprintf("%v", st.Supernodes)
	})
	res, err := lf.client().Lookup(t.Context(), obj, 0)
	if err != nil || len(res.Holders) != 1 || res.Holders[0].PeerID != lf.peerID() {
		t.Fatalf("lookup after the failover: %v %+v", err, res)
	}
	mfs := scrape(t, lf.api)
	if v := mustMetric(t, mfs, "supertracker_leaf_failovers_total"); v < 1 {
		t.Errorf("failovers = %v", v)
	}

	// The leaf detaches on SIGTERM: the supernode drops it at once.
	lf.stop(t, 15*time.Second)
	stopped := time.Now()
	poll(t, 10*time.Second, "the supernode forgets the stopped leaf", func() (bool, string) {
		st, err := backup.client().Status(t.Context())
		if err != nil {
			return false, err.Error()
		}
		return st.Leaves != nil && *st.Leaves == 0, fmt.Sprintf("%d leaves", *st.Leaves)
	})
	t.Logf("leaf SIGTERM → exit 0; supernode forgot it %s after its exit (session timeout 60s)", time.Since(stopped).Round(time.Millisecond))

	// The last supernode (no other to hand over to) exits 0 too.
	code, _ := httpGet(t, "http://"+backup.api+"/healthz")
	if code != http.StatusOK {
		t.Fatalf("healthz %d", code)
	}
	backup.stop(t, 30*time.Second)
	if b, err := os.ReadFile(backup.log); err != nil || !strings.Contains(string(b), "supernode stopped") {
		t.Fatalf("no clean stop in the log: %v\n%s", err, b)
	}
}
