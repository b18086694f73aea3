package leaf_test

import (
	"errors"
	"testing"

	"github.com/supertracker/supertracker/leaf"
)

func TestPresetsValidateAndAZeroRelayConfigIsRefused(t *testing.T) {
	if err := leaf.DefaultConfig().Validate(); err != nil {
		t.Errorf("DefaultConfig: %v", err)
	}
	c := leaf.LocalConfig()
	if err := c.Validate(); err != nil {
		t.Errorf("LocalConfig: %v", err)
	}
	c.Relay = leaf.RelayConfig{} // no mode, no check interval: nothing fills them in
	if err := c.Validate(); !errors.Is(err, leaf.ErrInvalidConfig) {
		t.Fatalf("Validate with a zero RelayConfig = %v, want ErrInvalidConfig", err)
	}
}
