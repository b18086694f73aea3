package bttracker

import (
	"context"
	"encoding/binary"
	"net/netip"
	"testing"
	"time"
	"unicode/utf8"
)

// FuzzParseAnnounce feeds arbitrary raw queries and remote addresses to the
// HTTP announce path: parsing must never panic, accepted requests must be
// well-formed, and the full handler must always answer a bencoded dict.
func FuzzParseAnnounce(f *testing.F) {
	f.Add(announceQuery(ih(1), ""), "127.0.0.1:1")
	f.Add(announceQuery(ih(2), "ip=2001:db8::1&numwant=999&compact=0&no_peer_id=1&event=stopped"), "[::1]:5")
	f.Add("info_hash=%ff%00&peer_id=%&port=-1", "x")
	f.Add("a=b&&c=%41+%", "1.2.3.4:5")
	tr := &fakeTracker{resp: AnnounceResponse{Peers: testPeers()}, noRecord: true}
	fe := newFrontend(f, tr, Config{MaxQueryLength: 2048})
	f.Fuzz(func(t *testing.T, rawQuery, remote string) {
		req, err := fe.parseAnnounce(rawQuery, remoteIP(remote))
		if err == nil {
			if !req.IP.IsValid() || req.NumWant < 0 || req.NumWant > fe.cfg.MaxNumWant {
				t.Fatalf("bad request accepted: %+v", req)
			}
			if req.Port == 0 && req.Event != EventStopped {
				t.Fatalf("port 0 accepted: %+v", req)
			}
		} else if _, ok := err.(ClientError); !ok {
			t.Fatalf("non-client error %T %v", err, err)
		}
		w := get(fe, "/announce", rawQuery, remote)
		d := decodeDict(t, w)
		_, failed := d["failure reason"]
		_, ok := d["interval"]
		if failed == ok || failed != (err != nil) {
			t.Fatalf("response %q for parse error %v", w.Body.Bytes(), err)
		}
		w = get(fe, "/scrape", rawQuery, remote)
		decodeDict(t, w)
	})
}

// FuzzUDPPacket feeds arbitrary packets to the BEP 15 handler. The seeds
// carry a valid connection ID for the fixed clock and secret, so the fuzzer
// reaches announce and scrape parsing.
func FuzzUDPPacket(f *testing.F) {
	now := time.Date(2026, 1, 2, 3, 4, 0, 0, time.UTC)
	tr := &fakeTracker{resp: AnnounceResponse{Peers: testPeers()}, noRecord: true}
	fe := newFrontend(f, tr, Config{
		Now:       func() time.Time { return now },
		UDPSecret: []byte("fuzz secret"),
	})
	from4 := netip.MustParseAddrPort("192.0.2.1:6881")
	from6 := netip.MustParseAddrPort("[2001:db8::1]:6881")
	id := fe.connID.issue(from4.Addr(), now)
	f.Add(connectPacket(1), false)
	f.Add(udpAnnounce{connID: id, tid: 2, hash: ih(1), peer: pid('Q'), port: 1, numWant: -1}.bytes(), false)
	f.Add(scrapePacket(id, 3, ih(1), ih(2)), false)
	f.Add(scrapePacket(fe.connID.issue(from6.Addr(), now), 4, ih(3)), true)
	f.Add([]byte{0, 0, 0}, false)
	f.Fuzz(func(t *testing.T, pkt []byte, v6 bool) {
		from := from4
		if v6 {
			from = from6
		}
		resp := fe.handleUDPPacket(context.Background(), pkt, from)
		if len(pkt) < udpHeaderLen {
			if resp != nil {
				t.Fatalf("short packet answered")
			}
			return
		}
		if len(resp) < 8 || len(resp) > maxUDPPayloadIPv4 {
			t.Fatalf("response of %d bytes", len(resp))
		}
		action := binary.BigEndian.Uint32(resp[0:4])
		if binary.BigEndian.Uint32(resp[4:8]) != binary.BigEndian.Uint32(pkt[12:16]) {
			t.Fatal("transaction id not echoed")
		}
		reqAction := binary.BigEndian.Uint32(pkt[8:12])
		switch {
		case action == actionError:
			if !utf8.Valid(resp[8:]) || len(resp) == 8 {
				t.Fatalf("error message %q", resp[8:])
			}
		case action != reqAction:
			t.Fatalf("action %d answered with %d", reqAction, action)
		case action == actionAnnounce && v6 && (len(resp)-20)%18 != 0,
			action == actionAnnounce && !v6 && (len(resp)-20)%6 != 0,
			action == actionScrape && (len(resp)-8)%12 != 0:
			t.Fatalf("malformed response %x", resp)
		}
	})
}
