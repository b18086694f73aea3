package election

import "fmt"

// Role is the committed role of a node.
type Role uint8

const (
	// RoleLeaf attaches to a supernode and runs no DHT. Every node starts here.
	RoleLeaf Role = iota
	// RoleSupernode serves leaves and is a server in the supernode kad-dht.
	RoleSupernode
)

func (r Role) String() string {
	switch r {
	case RoleLeaf:
		return "leaf"
	case RoleSupernode:
		return "supernode"
	default:
		return fmt.Sprintf("Role(%d)", uint8(r))
	}
}

// MarshalText encodes the role as "leaf" or "supernode" (also in JSON).
func (r Role) MarshalText() ([]byte, error) {
	if r != RoleLeaf && r != RoleSupernode {
		return nil, fmt.Errorf("election: unknown role %d", uint8(r))
	}
	return []byte(r.String()), nil
}

// UnmarshalText accepts "leaf" or "supernode".
func (r *Role) UnmarshalText(b []byte) error {
	switch string(b) {
	case "leaf":
		*r = RoleLeaf
	case "supernode":
		*r = RoleSupernode
	default:
		return fmt.Errorf("election: unknown role %q", b)
	}
	return nil
}

func (r Role) valid() bool { return r == RoleLeaf || r == RoleSupernode }
