package bttracker

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"time"
)

// Listener holds a TCP socket (HTTP tracker) and a UDP socket (BEP 15) bound
// to the same host and port number, so one "host:port" serves both
// http://host:port/announce and udp://host:port/announce.
type Listener struct {
	f    *Frontend
	tcp  net.Listener
	udp  *UDPServer
	addr netip.AddrPort

	closeOnce sync.Once
}

// Listen binds TCP and UDP on hostport. The host must be given explicitly
// ("127.0.0.1", "::1", "localhost", or "0.0.0.0" to really mean all
// interfaces); only that address is bound. Port 0 picks a port number free
// for both protocols.
func (f *Frontend) Listen(hostport string) (*Listener, error) {
	host, port, err := net.SplitHostPort(hostport)
	if err != nil {
		return nil, fmt.Errorf("bttracker: listen %q: %w", hostport, err)
	}
	if host == "" {
		return nil, fmt.Errorf("bttracker: listen %q: host required (use 0.0.0.0 to bind all interfaces)", hostport)
	}
	tries := 1
	if port == "0" {
		tries = 20 // the UDP port matching a random TCP port may be taken
	}
	var lastErr error
	for range tries {
		tl, err := net.Listen("tcp", hostport)
		if err != nil {
			return nil, fmt.Errorf("bttracker: listen: %w", err)
		}
		ap := tl.Addr().(*net.TCPAddr).AddrPort()
		// Bind UDP to exactly the address TCP got (a name like "localhost"
		// resolved to one address).
		uc, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(ap))
		if err != nil {
			tl.Close()
			lastErr = err
			continue
		}
		return &Listener{f: f, tcp: tl, udp: f.NewUDPServer(uc), addr: ap}, nil
	}
	return nil, fmt.Errorf("bttracker: listen udp: %w", lastErr)
}

// Addr is the bound address, the same for TCP and UDP.
func (l *Listener) Addr() netip.AddrPort { return l.addr }

// Serve serves HTTP on the TCP socket and BEP 15 on the UDP socket until ctx
// is cancelled or either fails. It then shuts both down (giving in-flight
// HTTP requests up to 5 s), closes the sockets and returns: nil after
// cancellation, otherwise the first error.
func (l *Listener) Serve(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	srv := &http.Server{
		Handler: l.f,
		// In-flight requests end with ctx: a stopping tracker does not
		// wait for overlay calls that may never return.
		BaseContext:       func(net.Listener) context.Context { return ctx },
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       15 * time.Second,
		WriteTimeout:      l.f.cfg.RequestTimeout + 15*time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    l.f.cfg.MaxQueryLength + 8<<10,
	}
	errs := make(chan error, 2)
	var wg sync.WaitGroup
	wg.Go(func() {
		err := srv.Serve(l.tcp)
		if errors.Is(err, http.ErrServerClosed) {
			err = nil
		}
		errs <- err
		cancel()
	})
	wg.Go(func() {
		err := l.udp.Serve(ctx)
		if errors.Is(err, ErrServerClosed) {
			err = nil
		}
		errs <- err
		cancel()
	})

	<-ctx.Done()
	shutCtx, shutCancel := context.WithTimeout(context.Background(), 5*time.Second)
	if err := srv.Shutdown(shutCtx); err != nil {
		srv.Close()
	}
	shutCancel()
	l.Close()
	wg.Wait()
	close(errs)
	var first error
	for err := range errs {
		if err != nil && first == nil {
			first = err
		}
	}
	return first
}

// Close closes both sockets. Use it to release a Listener that is not being
// served; Serve closes them itself when it returns.
func (l *Listener) Close() error {
	var err error
	l.closeOnce.Do(func() {
		err = errors.Join(ignoreClosed(l.tcp.Close()), ignoreClosed(l.udp.Close()))
	})
	return err
}

// ListenAndServe is Listen followed by Serve.
func (f *Frontend) ListenAndServe(ctx context.Context, hostport string) error {
	l, err := f.Listen(hostport)
	if err != nil {
		return err
	}
	return l.Serve(ctx)
}

func ignoreClosed(err error) error {
	if errors.Is(err, net.ErrClosed) {
		return nil
	}
	return err
}
