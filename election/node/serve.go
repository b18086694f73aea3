package node

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"
)

// serveAPI starts the HTTP API on hostport and returns the address it
// listens on and a function that shuts it down.
func serveAPI(hostport string, handler http.Handler, log *slog.Logger) (string, func(), error) {
	ln, err := net.Listen("tcp", hostport)
	if err != nil {
		return "", nil, fmt.Errorf("--api %s: %w", hostport, err)
	}
	srv := &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("API server stopped", "err", err)
		}
	}()
	log.Info("API listening", "addr", ln.Addr().String())
	return ln.Addr().String(), func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	}, nil
}
