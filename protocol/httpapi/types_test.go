package httpapi_test

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/supertracker/supertracker/election"
	"github.com/supertracker/supertracker/protocol/httpapi"
)

var electionAt = time.Date(2026, 12, 2, 3, 0, 0, 0, time.UTC)

// The election object is a typed value on both sides, and its JSON is the
// machine's status with dht_peers beside its fields (not nested).
func TestStatusCarriesTheElectionAsATypedValue(t *testing.T) {
	at := electionAt
	in := httpapi.Status{Role: httpapi.RoleSupernode, Election: &httpapi.ElectionStatus{
		Status:   election.Status{Now: at, Role: election.RoleSupernode, Since: at, RoleChanges: 2, Score: 0.5, Eligible: true},
		DHTPeers: []string{"12D3KooWA", "12D3KooWB"},
	}}
	b, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"role":"supernode","since"`, `"role_changes":2`, `"dht_peers":["12D3KooWA","12D3KooWB"]`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("JSON lacks %s:\n%s", want, b)
		}
	}
	var out httpapi.Status
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	if out.Election == nil || out.Election.Role != election.RoleSupernode || out.Election.RoleChanges != 2 ||
		!slices.Equal(out.Election.DHTPeers, in.Election.DHTPeers) || !out.Election.Now.Equal(at) {
		t.Fatalf("decoded election = %+v, want %+v", out.Election, in.Election)
	}
	var leaf httpapi.Status
	if err := json.Unmarshal([]byte(`{"role":"leaf"}`), &leaf); err != nil || leaf.Election != nil {
		t.Fatalf("a status without election decoded to %+v, %v", leaf.Election, err)
	}
}
