package main

import (
	"fmt"
	"strconv"
	"strings"
)

// parseRate parses a byte rate: a number with an optional k (×1024) or M
// (×1024²) suffix, in bytes per second; "" or "0" means no limit.
func parseRate(flagName, s string) (float64, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, nil
	}
	mult := 1.0
	switch {
	case strings.HasSuffix(s, "k"), strings.HasSuffix(s, "K"):
		mult, s = 1024, s[:len(s)-1]
	case strings.HasSuffix(s, "M"):
		mult, s = 1024*1024, s[:len(s)-1]
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || v < 0 || v != v || v*mult > 1e15 {
		return 0, fmt.Errorf("%s %q: want bytes per second, e.g. 65536, 64k or 2M", flagName, s)
	}
	return v * mult, nil
}
