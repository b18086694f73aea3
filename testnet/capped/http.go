package capped

import (
	"errors"
	"net/http"
	"net/http/httputil"
	"net/url"
)

// Handler is a reverse proxy to target whose requests that capped(r)
// selects wait for their service on srv first (a client that gives up
// meanwhile is dropped from the queue's wait, not from its accounting);
// one the full queue turns away gets 503 at once.
func Handler(srv *Server, target *url.URL, capped func(*http.Request) bool) http.Handler {
	proxy := httputil.NewSingleHostReverseProxy(target)
	proxy.ErrorLog = nil
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if capped(r) {
			if err := srv.Serve(r.Context()); err != nil {
				if errors.Is(err, ErrBlocked) {
					http.Error(w, "service cap: queue full", http.StatusServiceUnavailable)
				}
				return // blocked, or the client went away
			}
		}
		proxy.ServeHTTP(w, r)
	})
}
