package node

import (
	"fmt"
	"io"
	"log/slog"
	"os"

	golog "github.com/ipfs/go-log/v2"
)

// NewLogger makes a structured text logger at level (debug, info, warn or
// error) and quiets go-libp2p's own logging to match (unless
// $GOLOG_LOG_LEVEL sets it): libp2p's loggers are noisy about things that
// are normal on loopback testnets.
func NewLogger(level string, w io.Writer) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level %q: want debug, info, warn or error", level)
	}
	// libp2p's loggers are noisy about things that are normal on loopback
	// testnets; show them only when debugging.
	libp2pLevel := "error"
	if l <= slog.LevelDebug {
		libp2pLevel = "warn"
	}
	if os.Getenv("GOLOG_LOG_LEVEL") == "" {
		_ = golog.SetLogLevel("*", libp2pLevel)
		_ = golog.SetLogLevel("net/identify", "fatal")
		_ = golog.SetLogLevel("basichost", "fatal")
		// Its fx container logs a failed construction as errors before
		// libp2p.New returns the error, which the caller reports.
		_ = golog.SetLogLevel("p2p-config", "fatal")
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: l})), nil
}
