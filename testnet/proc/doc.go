// Package proc starts and stops supertracker processes for testnets and
// end-to-end tests: each in its own process group, on its own 127.0.0.x
// address, with its listen multiaddrs read from stdout and its API polled
// until it answers. Kill sends SIGKILL; Stop sends SIGTERM and waits.
//
//	p, err := proc.Start(ctx, proc.Spec{Binary: bin, Args: []string{"supernode", …}, API: "127.0.0.2:5001", LogPath: "sn0.log"})
//	addrs := p.Addrs()          // full /p2p/ multiaddrs printed at start
//	defer p.Kill()
package proc
