package metrics

import (
	"github.com/supertracker/supertracker/testnet/events"
)

// Mark kinds: what the plots draw as vertical lines.
const (
	MarkKill        = "kill"         // churn kill
	MarkTargeted    = "targeted"     // targeted supernode kill
	MarkMassFailure = "mass_failure" // the mass failure (one mark, all victims)
	MarkRestart     = "restart"
)

// Mark is a churn event in the window, at TS seconds after t0.
type Mark struct {
	TS   float64 `json:"t_s"`
	Kind string  `json:"kind"`
	Node int     `json:"node"` // -1 for the mass failure
}

// marks lists the window's kills, restarts and the mass failure.
func (a *analysis) marks(s *Summary) {
	massAt := map[int64]bool{}
	for _, ev := range a.evs {
		if ev.T < a.t0 || ev.T >= a.end {
			continue
		}
		ts := sec(ev.T - a.t0)
		switch e := ev.Payload.(type) {
		case events.NodeKill:
			switch e.Cause {
			case events.CauseShutdown:
			case events.CauseTargeted:
				s.Marks = append(s.Marks, Mark{TS: ts, Kind: MarkTargeted, Node: e.Node})
			case events.CauseMassFailure:
				// one mark per mass failure: its kills share an instant (±1 s)
				key := int64(ts)
				if !massAt[key] && !massAt[key-1] && !massAt[key+1] {
					massAt[key] = true
					s.Marks = append(s.Marks, Mark{TS: ts, Kind: MarkMassFailure, Node: -1})
				}
			default:
				s.Marks = append(s.Marks, Mark{TS: ts, Kind: MarkKill, Node: e.Node})
			}
		case events.NodeRestart:
			s.Marks = append(s.Marks, Mark{TS: ts, Kind: MarkRestart, Node: e.Node})
		}
	}
}
