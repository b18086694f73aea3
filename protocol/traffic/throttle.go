package traffic

import (
	"context"
	"io"

	"golang.org/x/time/rate"
)

// ThrottledWriter writes through a token bucket of bytes per second, so a
// node's --bandwidth-limit holds for what it sends on our protocols. A nil
// limiter writes at full speed.
type ThrottledWriter struct {
	W   io.Writer
	Lim *rate.Limiter
	Ctx context.Context
}

// Write implements io.Writer, in chunks no larger than the bucket's burst.
func (t ThrottledWriter) Write(p []byte) (int, error) {
	if t.Lim == nil {
		return t.W.Write(p)
	}
	ctx := t.Ctx
	if ctx == nil {
		ctx = context.Background()
	}
	written := 0
	for len(p) > 0 {
		n := min(len(p), t.Lim.Burst())
		if err := t.Lim.WaitN(ctx, n); err != nil {
			return written, err
		}
		m, err := t.W.Write(p[:n])
		written += m
		if err != nil {
			return written, err
		}
		p = p[n:]
	}
	return written, nil
}
