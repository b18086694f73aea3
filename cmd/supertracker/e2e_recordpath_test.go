package main

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/ipfs/go-cid"
	mh "github.com/multiformats/go-multihash"

	"github.com/supertracker/supertracker/protocol/httpapi"
	"github.com/supertracker/supertracker/testnet/launcher"
)

// The record path end to end with the binary: 6 supernode processes with
// --replication 2, one `announce` of 40 CIDs: the `records` of the
// supernodes' status sum to exactly 80, the answer says 2 replicas, and
// another leaf finds every CID.
func TestEndToEndBatchStoredExactlyRTimes(t *testing.T) {
	bin := binary(t)
	dir := t.TempDir()
	ctx := t.Context()
	c := &launcher.Cluster{}
	defer c.StopAll(5 * time.Second)
	var boot, apis []string
	for i := 0; i < 6; i++ {
		p, err := launcher.StartSupernode(ctx, c, bin, dir, 20+i, boot, "--replication", "2")
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			boot = p.Addrs()
		}
		apis = append(apis, p.API())
	}
	poll(t, 30*time.Second, "every supernode to know the other five", func() (bool, string) {
		for _, api := range apis {
			st, err := httpapi.NewClient(api).Status(ctx)
			if err != nil || st.RoutingTable == nil || *st.RoutingTable != 6 {
				return false, fmt.Sprintf("%s: %v %v", api, st, err)
			}
		}
		return true, ""
	})
	a, err := launcher.StartLeaf(ctx, c, bin, dir, 26, boot)
	if err != nil {
		t.Fatal(err)
	}
	b, err := launcher.StartLeaf(ctx, c, bin, dir, 27, boot)
	if err != nil {
		t.Fatal(err)
	}
	var objs []string
	for i := range 40 {
		h, _ := mh.Sum([]byte(fmt.Sprint("e2e batch ", i)), mh.SHA2_256, -1)
		objs = append(objs, cid.NewCidV1(cid.Raw, h).String())
	}
	out, errOut, code := cli(t, bin, append([]string{"announce", "--api", a.API()}, objs...)...)
	if code != 0 {
		t.Fatalf("announce exit %d: %s %s", code, out, errOut)
	}
	res, err := httpapi.NewClient(a.API()).Announce(ctx, objs[:1]) // same CID again: answer shape
	if err != nil || res.Replicas != 2 {
		t.Fatalf("announce answer %+v %v, want 2 replicas", res, err)
	}
	total := 0
	for _, api := range apis {
		st, err := httpapi.NewClient(api).Status(ctx)
		if err != nil || st.Records == nil {
			t.Fatalf("status of %s: %v", api, err)
		}
		total += *st.Records
	}
	if total != 80 {
		t.Fatalf("supernodes' records sum to %d, want exactly 80 (40 CIDs × r=2)", total)
	}
	bc := httpapi.NewClient(b.API())
	for _, o := range objs {
		got, err := bc.Lookup(ctx, o, 0)
		if err != nil || len(got.Holders) != 1 || !strings.Contains(strings.Join(got.Holders[0].Addrs, " "), a.Addrs()[0]) {
			t.Fatalf("lookup of %s from leaf B: %+v %v", o, got, err)
		}
	}
}
