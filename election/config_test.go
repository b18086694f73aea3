package election

import (
	"errors"
	"math"
	"strings"
	"testing"
	"time"
)

func TestPresetsValidate(t *testing.T) {
	for name, c := range map[string]Config{"default": DefaultConfig(), "local": LocalConfig()} {
		if err := c.Validate(); err != nil {
			t.Errorf("%s: %v", name, err)
		}
		// Anti-flap property the defaults are argued from: after one of two
		// supernodes leaves, the survivor stays below the promote band.
		if 2*c.DemoteRho >= c.PromoteRho || 2*c.DemoteFill >= c.PromoteFill {
			t.Errorf("%s: demote thresholds not below half the promote thresholds", name)
		}
		if c.DemandWindow >= c.MinDwell {
			t.Errorf("%s: DemandWindow %v should be shorter than MinDwell %v", name, c.DemandWindow, c.MinDwell)
		}
	}
}

func TestConfigValidateRejects(t *testing.T) {
	tests := []struct {
		name string
		mod  func(*Config)
		want string
	}{
		{"negative uptime", func(c *Config) { c.MinUptime = -1 }, "MinUptime"},
		{"negative upload", func(c *Config) { c.MinUpload = -1 }, "MinUpload"},
		{"headroom above 1", func(c *Config) { c.MinHeadroom = 1.5 }, "MinHeadroom"},
		{"headroom NaN", func(c *Config) { c.MinHeadroom = math.NaN() }, "MinHeadroom"},
		{"no leaves", func(c *Config) { c.MaxLeaves = 0 }, "MaxLeaves"},
		{"rho band inverted", func(c *Config) { c.DemoteRho, c.PromoteRho = 0.8, 0.3 }, "DemoteRho"},
		{"rho band empty", func(c *Config) { c.DemoteRho = c.PromoteRho }, "DemoteRho"},
		{"fill band inverted", func(c *Config) { c.DemoteFill, c.PromoteFill = 0.9, 0.4 }, "DemoteFill"},
		{"negative window", func(c *Config) { c.DemandWindow = -time.Second }, "DemandWindow"},
		{"negative dwell", func(c *Config) { c.MinDwell = -time.Second }, "MinDwell"},
		{"negative jitter", func(c *Config) { c.Jitter = -1 }, "Jitter"},
		{"zero backoff", func(c *Config) { c.Backoff = 0 }, "Backoff"},
		{"max backoff below backoff", func(c *Config) { c.MaxBackoff = c.Backoff / 2 }, "MaxBackoff"},
		{"zero report ttl", func(c *Config) { c.ReportTTL = 0 }, "ReportTTL"},
		{"zero reachability ttl", func(c *Config) { c.ReachabilityTTL = 0 }, "ReachabilityTTL"},
		{"zero score uptime", func(c *Config) { c.ScoreUptime = 0 }, "ScoreUptime"},
		{"score upload at floor", func(c *Config) { c.ScoreUpload = c.MinUpload }, "ScoreUpload"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := DefaultConfig()
			tt.mod(&c)
			err := c.Validate()
			if !errors.Is(err, ErrInvalidConfig) {
				t.Fatalf("Validate() = %v, want ErrInvalidConfig", err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not name %s", err, tt.want)
			}
			if _, err := New(c, t0, nil); !errors.Is(err, ErrInvalidConfig) {
				t.Errorf("New accepted an invalid config: %v", err)
			}
		})
	}
}

func TestConfigValidateReportsAll(t *testing.T) {
	c := DefaultConfig()
	c.MaxLeaves, c.Backoff = 0, 0
	err := c.Validate()
	for _, want := range []string{"MaxLeaves", "Backoff"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q misses %s", err, want)
		}
	}
}

func TestNewRejectsZeroTime(t *testing.T) {
	if _, err := New(DefaultConfig(), time.Time{}, nil); !errors.Is(err, ErrInvalidConfig) {
		t.Fatalf("New(zero time) = %v", err)
	}
}
