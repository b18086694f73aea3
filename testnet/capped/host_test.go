package capped

import (
	"bytes"
	"io"
	"testing"
	"time"

	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/network"
	mh "github.com/multiformats/go-multihash"

	"github.com/supertracker/supertracker/protocol"
	"github.com/supertracker/supertracker/protocol/pb"
)

// fakeStream serves reads from a buffer, at most chunk bytes at a time,
// and records writes.
type fakeStream struct {
	network.Stream
	r     bytes.Buffer
	w     bytes.Buffer
	chunk int
}

func (f *fakeStream) Read(b []byte) (int, error) {
	if f.chunk > 0 && len(b) > f.chunk {
		b = b[:f.chunk]
	}
	return f.r.Read(b)
}
func (f *fakeStream) Write(b []byte) (int, error) { return f.w.Write(b) }

func lookupReq(id uint64) *pb.Request {
	h, _ := mh.Sum([]byte("x"), mh.SHA2_256, -1)
	c := cid.NewCidV1(cid.Raw, h)
	return &pb.Request{Id: id, Body: &pb.Request_Lookup{Lookup: &pb.LookupRequest{Cid: c.Bytes()}}}
}

func heartbeatReq(id uint64) *pb.Request {
	return &pb.Request{Id: id, Body: &pb.Request_Heartbeat{Heartbeat: &pb.HeartbeatRequest{}}}
}

// readFrame reads one request frame through r, as the supernode does.
func readFrame(t *testing.T, r *protocol.MsgReader) *pb.Request {
	t.Helper()
	frame, err := r.ReadFrame()
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	req, err := protocol.DefaultLimits.DecodeRequest(frame)
	if err != nil {
		t.Fatalf("decode: %v", err)
	}
	return req.Request
}

// Frames arriving in pieces reach the supernode whole and in order; only
// lookups are queued.
func TestFramesHandedOverWhole(t *testing.T) {
	srv, _ := NewServer(1e6, 1)
	fs := &fakeStream{chunk: 3}
	for _, req := range []*pb.Request{lookupReq(1), heartbeatReq(2), lookupReq(3)} {
		if err := protocol.WriteMsg(&fs.r, req); err != nil {
			t.Fatal(err)
		}
	}
	s := &cappedStream{Stream: fs, srv: srv, limits: protocol.DefaultLimits}
	rd := protocol.DefaultLimits.NewReader(s)
	for _, want := range []uint64{1, 2, 3} {
		if got := readFrame(t, rd).Id; got != want {
			t.Fatalf("frame %d, want %d", got, want)
		}
	}
	if st := srv.Stats(); len(s.dones) != 2 {
		t.Fatalf("%d lookups queued (%+v), want 2", len(s.dones), st)
	}
}

// A lookup's wait in the queue passes before the supernode reads it and
// its service between the read and the answer, so the supernode's load
// meter (read → answer) sees the service time only.
func TestReadWaitsForServiceWriteForItsEnd(t *testing.T) {
	srv, err := NewServer(50, 1)
	if err != nil {
		t.Fatal(err)
	}
	var queued time.Time
	for i := 0; i < 10; i++ { // ~200 ms of work ahead of the lookup
		_, queued, _ = srv.Enqueue()
	}
	fs := &fakeStream{}
	if err := protocol.WriteMsg(&fs.r, lookupReq(1)); err != nil {
		t.Fatal(err)
	}
	s := &cappedStream{Stream: fs, srv: srv, limits: protocol.DefaultLimits}
	readFrame(t, protocol.DefaultLimits.NewReader(s))
	if now := time.Now(); now.Before(queued) {
		t.Fatalf("read returned %v before the queue ahead was served", queued.Sub(now))
	}
	if len(s.dones) != 1 {
		t.Fatalf("%d services pending, want 1", len(s.dones))
	}
	done := s.dones[0]
	if _, err := s.Write([]byte("answer")); err != nil {
		t.Fatal(err)
	}
	if now := time.Now(); now.Before(done) {
		t.Fatalf("answer written %v before the service ended", done.Sub(now))
	}
	if len(s.dones) != 0 || fs.w.String() != "answer" {
		t.Fatalf("after the answer: %d pending, wrote %q", len(s.dones), fs.w.String())
	}
}

// With the queue full a lookup is answered RATE_LIMITED at once and never
// reaches the supernode; the heartbeat after it does.
func TestFullQueueTurnsLookupAway(t *testing.T) {
	srv, _ := NewServer(0.001, 1) // mean service 1000 s
	srv.SetCapacity(1)
	if _, _, ok := srv.Enqueue(); !ok {
		t.Fatal("first request blocked")
	}
	fs := &fakeStream{}
	for _, req := range []*pb.Request{lookupReq(7), heartbeatReq(8)} {
		if err := protocol.WriteMsg(&fs.r, req); err != nil {
			t.Fatal(err)
		}
	}
	s := &cappedStream{Stream: fs, srv: srv, limits: protocol.DefaultLimits}
	start := time.Now()
	if got := readFrame(t, protocol.DefaultLimits.NewReader(s)).Id; got != 8 {
		t.Fatalf("supernode read request %d, want the heartbeat 8", got)
	}
	if el := time.Since(start); el > time.Second {
		t.Fatalf("turned away after %v", el)
	}
	frame, err := protocol.DefaultLimits.NewReader(&fs.w).ReadFrame()
	if err != nil {
		t.Fatal(err)
	}
	resp, err := protocol.DefaultLimits.DecodeResponse(frame)
	if err != nil {
		t.Fatal(err)
	}
	if resp.Id != 7 || resp.Status != pb.Status_RATE_LIMITED {
		t.Fatalf("answer %+v, want RATE_LIMITED to 7", resp)
	}
	if st := srv.Stats(); len(s.dones) != 0 {
		t.Fatalf("lookups pending %d (%+v)", len(s.dones), st)
	}
}

// An oversized length passes through to the supernode, which answers it.
func TestOversizedPassesThrough(t *testing.T) {
	fs := &fakeStream{}
	fs.r.Write([]byte{0xff, 0xff, 0xff, 0xff, 0x0f, 1, 2, 3})
	s := &cappedStream{Stream: fs, limits: protocol.DefaultLimits}
	b, err := io.ReadAll(s)
	if err != nil || len(b) != 8 || !s.lost {
		t.Fatalf("read %d bytes, err %v, lost %v", len(b), err, s.lost)
	}
}
