package supernode_test

import (
	"errors"
	"testing"

	"github.com/supertracker/supertracker/supernode"
)

func TestPresetsValidate(t *testing.T) {
	for name, c := range map[string]supernode.Config{"default": supernode.DefaultConfig(), "local": supernode.LocalConfig()} {
		if err := c.Validate(); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestValidateRefusesZeroRelayCaps(t *testing.T) {
	c := supernode.DefaultConfig()
	c.Relay = supernode.RelayConfig{}
	if err := c.Validate(); !errors.Is(err, supernode.ErrInvalidConfig) {
		t.Fatalf("Validate with a zero RelayConfig = %v, want ErrInvalidConfig", err)
	}
	c.Relay.Disabled = true
	if err := c.Validate(); err != nil {
		t.Fatalf("Validate with the relay disabled = %v", err)
	}
}
