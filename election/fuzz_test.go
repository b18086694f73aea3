package election

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"math"
	"testing"
	"time"
)

// FuzzStep feeds arbitrary observation sequences: the machine never panics,
// its status always encodes, and its role only changes through RoleChanged.
func FuzzStep(f *testing.F) {
	f.Add([]byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9})
	f.Add([]byte{6, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 9, 9, 9, 9, 9, 9, 9, 9})
	f.Add([]byte{3, 255, 255, 255, 255, 255, 255, 255, 127, 5, 0x7f, 0xf0, 0, 0, 0, 0, 0, 1})
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := New(LocalConfig(), t0, seeded(1))
		if err != nil {
			t.Fatal(err)
		}
		next := func() uint64 {
			if len(data) < 8 {
				data = nil
				return 0
			}
			v := binary.LittleEndian.Uint64(data)
			data = data[8:]
			return v
		}
		now := t0
		for len(data) > 0 {
			op := data[0] % 13
			data = data[1:]
			now = now.Add(time.Duration(next() % uint64(time.Minute)))
			fl := math.Float64frombits(next())
			n := int(int64(next()))
			var o Observation
			switch op {
			case 0:
				o = Tick{At: now}
			case 1:
				o = Uptime{SessionStart: now.Add(-time.Duration(n)), Average: time.Duration(n), Sessions: n, At: now}
			case 2:
				o = Reachability{Reachable: n%2 == 0, VerifiedBy: "p", At: now}
			case 3:
				o = Bandwidth{Upload: int64(n), At: now}
			case 4:
				o = Resources{CPU: fl, Mem: fl, At: now}
			case 5:
				o = Demand{From: string(rune('a' + uint(n)%4)), Rho: fl, Leaves: n, MaxLeaves: n, At: now}
			case 6:
				o = Load{Rho: fl, Leaves: n, At: now}
			case 7:
				o = Supernodes{Reachable: n, At: now}
			case 8:
				o = RoleChanged{Role: Role(uint(n) % 3), At: now}
			case 9:
				o = RoleChangeFailed{Err: errors.New("boom"), At: now}
			case 10:
				o = Tick{At: now.Add(time.Hour)}
			case 11:
				o = Candidate{From: string(rune('a' + uint(n)%4)), Score: fl, At: now}
			case 12:
				o = Suspended{Slept: time.Duration(n), At: now}
			}
			before := m.Role()
			err := m.Step(o)
			if err != nil && !errors.Is(err, ErrInvalidObservation) && !errors.Is(err, ErrNoProposal) {
				t.Fatalf("Step(%#v) = %v: not a sentinel", o, err)
			}
			if rc, ok := o.(RoleChanged); m.Role() != before && (!ok || err != nil || rc.Role != m.Role()) {
				t.Fatalf("role changed %v → %v on %#v", before, m.Role(), o)
			}
			m.Ready()
			st := m.Status()
			if _, err := json.Marshal(st); err != nil {
				t.Fatalf("status does not encode: %v\n%+v", err, st)
			}
			_ = st.String()
		}
	})
}
