package capped

import (
	"context"
	"errors"
	"math"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"
	"time"
)

// At ρ = 0.5 an M/M/1 queue's mean wait in queue is ρ/(μ−λ) = 1/μ: the
// server accounts for it in virtual time, so the check needs no clock.
func TestServerAccounting(t *testing.T) {
	if _, err := NewServer(0, 1); !errors.Is(err, ErrBadRate) {
		t.Fatalf("μ = 0: %v", err)
	}
	s, err := NewServer(1000, 7)
	if err != nil {
		t.Fatal(err)
	}
	// Back-to-back arrivals at one instant: the k-th waits for the k−1
	// services before it; the busy time is the sum of the services.
	const n = 200
	var wg sync.WaitGroup
	start := time.Now()
	for range n {
		wg.Go(func() {
			if err := s.Serve(context.Background()); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	el := time.Since(start)
	// n exponential services of mean 1 ms: ~200 ms in all (±5σ ≈ 70 ms).
	if el < 120*time.Millisecond || el > 2*time.Second {
		t.Fatalf("%d queued requests took %v, want ≈ %v", n, el, n*time.Millisecond)
	}
	s.mu.Lock()
	arr, busy := s.arrivals, s.busy
	s.mu.Unlock()
	if arr != n || math.Abs(busy.Seconds()-0.2) > 0.08 {
		t.Fatalf("arrivals %d busy %v", arr, busy)
	}
}

func TestServeCancelled(t *testing.T) {
	s, _ := NewServer(0.001, 1) // mean service 1000 s
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if err := s.Serve(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Serve: %v", err)
	}
}

func TestHandlerCapsOnlySelected(t *testing.T) {
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("ok"))
	}))
	defer backend.Close()
	u, _ := url.Parse(backend.URL)
	s, _ := NewServer(0.001, 1) // effectively never served
	h := Handler(s, u, func(r *http.Request) bool { return r.URL.Query().Get("port") == "6882" })
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/announce?port=6881", nil))
	if rec.Body.String() != "ok" {
		t.Fatalf("uncapped request: %q", rec.Body.String())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/announce?port=6882", nil).WithContext(ctx))
	if rec.Body.Len() != 0 {
		t.Fatalf("capped request answered before its service: %q", rec.Body.String())
	}
}

// With capacity h the (h+1)-th request in the system is turned away at
// once (M/M/1/h), counted as blocked, not as an arrival; the HTTP proxy
// answers it 503.
func TestCapacityBlocks(t *testing.T) {
	s, _ := NewServer(0.001, 1) // mean service 1000 s
	s.SetCapacity(2)
	for i := range 2 {
		if _, _, ok := s.Enqueue(); !ok {
			t.Fatalf("request %d blocked", i)
		}
	}
	if err := s.Serve(context.Background()); !errors.Is(err, ErrBlocked) {
		t.Fatalf("third request: %v", err)
	}
	s.mu.Lock()
	arr, blk := s.arrivals, s.blocked
	s.mu.Unlock()
	if arr != 2 || blk != 1 {
		t.Fatalf("arrivals %d blocked %d", arr, blk)
	}
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok")) }))
	defer backend.Close()
	u, _ := url.Parse(backend.URL)
	rec := httptest.NewRecorder()
	Handler(s, u, func(*http.Request) bool { return true }).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/announce", nil))
	if rec.Code != http.StatusServiceUnavailable {
		t.Fatalf("blocked request: %d %q", rec.Code, rec.Body.String())
	}
}

// Under overload the queue stays full and the server never idles: its
// measured ρ is the busy fraction, 1, however the window cuts the
// services; the offered load counts the arrivals turned away too. At
// light load ρ is the share of the window spent serving. Synthetic time.
func TestStatsBusyFraction(t *testing.T) {
	s, _ := NewServer(16, 3)
	s.SetCapacity(24)
	t0 := s.start
	// 40 arrivals/s for 10 s: 2.5× μ.
	var blocked int
	for i := range 400 {
		if _, _, ok := s.enqueueAt(t0.Add(time.Duration(i) * 25 * time.Millisecond)); !ok {
			blocked++
		}
	}
	st := s.statsAt(t0.Add(10 * time.Second))
	if st.Rho < 0.999 {
		t.Fatalf("saturated server: ρ %.3f, want 1 (arrivals %d blocked %d)", st.Rho, st.Arrivals, st.Blocked)
	}
	if math.Abs(st.Offered-2.5) > 0.3 || blocked == 0 {
		t.Fatalf("offered %.2f, want ≈ 2.5 (blocked %d)", st.Offered, blocked)
	}
	// Idle for a window, then one request alone: busy exactly its service.
	t1 := t0.Add(20 * time.Second)
	s.statsAt(t1)
	begin, done, ok := s.enqueueAt(t1.Add(100 * time.Millisecond))
	if !ok || !begin.Equal(t1.Add(100*time.Millisecond)) {
		t.Fatalf("idle server: begin %v ok %v", begin.Sub(t1), ok)
	}
	svc := done.Sub(begin)
	st = s.statsAt(t1.Add(100*time.Millisecond + max(2*svc, 2*time.Second)))
	want := svc.Seconds() / (100*time.Millisecond + max(2*svc, 2*time.Second)).Seconds()
	if math.Abs(st.Rho-want) > 1e-9 || st.Arrivals != 1 {
		t.Fatalf("one request: ρ %.6f, want %.6f (arrivals %d)", st.Rho, want, st.Arrivals)
	}
}
