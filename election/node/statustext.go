package node

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/supertracker/supertracker/protocol/httpapi"
)

// WriteStatusText writes a node's status (GET /v1/status) for a person:
// what `supertracker status` prints.
func WriteStatusText(w io.Writer, s *httpapi.Status) {
	fmt.Fprintf(w, "role:     %s\npeer id:  %s\nuptime:   %s\n", s.Role, s.PeerID, (time.Duration(s.UptimeSeconds) * time.Second).String())
	for i, a := range s.Addrs {
		label := "addrs:   "
		if i > 0 {
			label = "         "
		}
		fmt.Fprintf(w, "%s %s\n", label, a)
	}
	if s.Role == httpapi.RoleLeaf {
		fmt.Fprintf(w, "objects:  %d\n", s.Objects)
		for i, a := range s.Supernodes {
			kind := "backup "
			if i == 0 {
				kind = "primary"
			}
			fmt.Fprintf(w, "%s:  %s\n", kind, a)
		}
		if len(s.Supernodes) == 0 {
			fmt.Fprintln(w, "primary:  (none attached)")
		}
		if r := s.Relay; r != nil {
			fmt.Fprintf(w, "reach:    %s", r.Reachability)
			if r.CheckedBy != "" {
				fmt.Fprintf(w, " (dial-back by %s)", r.CheckedBy)
			}
			fmt.Fprintf(w, "; relay %s, slots on %d supernode(s)\n", r.Mode, len(r.Relays))
		}
	}
	if s.Leaves != nil {
		fmt.Fprintf(w, "leaves:   %d of %d\n", *s.Leaves, s.MaxLeaves)
	}
	if s.Records != nil {
		fmt.Fprintf(w, "records:  %d\n", *s.Records)
	}
	if s.RoutingTable != nil {
		fmt.Fprintf(w, "routing:  %d supernodes in the routing table\n", *s.RoutingTable)
	}
	if s.Rho != nil {
		fmt.Fprintf(w, "load:     ρ = %.3f\n", *s.Rho)
	}
	if s.Election != nil {
		fmt.Fprintf(w, "election: %s\n", electionText(s.Election))
	}
}

// electionText renders the election object of a status reply for a person.
func electionText(s *httpapi.ElectionStatus) string {
	return "\n  " + strings.ReplaceAll(strings.TrimRight(s.String(), "\n"), "\n", "\n  ")
}
