package runner_test

import (
	"errors"
	"log/slog"
	"reflect"
	"testing"

	"github.com/supertracker/supertracker/election/runner"
	"github.com/supertracker/supertracker/leaf"
	"github.com/supertracker/supertracker/supernode"
)

func TestPresetsValidateAndNameTheirParts(t *testing.T) {
	for name, want := range map[string]runner.Config{"default": runner.DefaultConfig(), "local": runner.LocalConfig()} {
		c, err := runner.Preset(name)
		if err != nil {
			t.Fatalf("Preset(%q): %v", name, err)
		}
		if err := c.Validate(); err != nil {
			t.Errorf("Preset(%q).Validate: %v", name, err)
		}
		if c.Tick != want.Tick || c.Supernode.GossipInterval != want.Supernode.GossipInterval || c.Leaf.DiscoveryInterval != want.Leaf.DiscoveryInterval {
			t.Errorf("Preset(%q) is not the %s preset", name, name)
		}
	}
	if c := runner.LocalConfig(); c.Supernode.GossipInterval != supernode.LocalConfig().GossipInterval || c.Leaf.DiscoveryInterval != leaf.LocalConfig().DiscoveryInterval {
		t.Errorf("runner.LocalConfig does not use the libraries' LocalConfig")
	}
	if _, err := runner.Preset("lan"); !errors.Is(err, runner.ErrInvalidConfig) {
		t.Fatalf("Preset(lan) = %v, want ErrInvalidConfig", err)
	}
}

func TestValidateDoesNotChangeTheConfig(t *testing.T) {
	c := runner.LocalConfig()
	c.Logger = slog.New(slog.DiscardHandler)
	c.Election.MaxLeaves = 7 // the supernode's capacity, set by New, not by Validate
	before := c
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(before, c) || c.Supernode.MaxLeaves == 7 || c.Supernode.Logger == c.Logger {
		t.Fatalf("Validate changed the config")
	}
	// What New derives is still checked: a supernode config that is only
	// invalid with the election's capacity applied is refused.
	c.Election.MaxLeaves = 0
	if err := c.Validate(); err == nil {
		t.Fatalf("Validate accepted MaxLeaves 0")
	}
}
