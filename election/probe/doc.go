// Package probe carries out the measurements the election needs, over
// protocol.ProbeProtocol, on a live libp2p host (package election itself
// stays pure):
//
//   - upload bandwidth by a real transfer: the node streams filler bytes
//     (at most 1 MiB or 2 s by default, through its --bandwidth-limit
//     throttle) to another peer, which times first to last byte and reports;
//     cost per probe: at most MaxBytes of traffic;
//   - reachability by a dial-back: the other peer opens a NEW TCP connection
//     to the node's listen address (only at the IP the request came from,
//     so it cannot be used to make a peer dial a third party) and waits for
//     the libp2p listener's multistream header;
//   - a supernode's load, for the demand signal between supernodes.
//
// Every node serves probes (NewServer); a node asks its supernode or a
// routing-table peer.
package probe
