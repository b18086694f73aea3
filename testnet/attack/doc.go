// Package attack is supertracker's attack suite: hostile peers written
// against go-libp2p, stock go-libp2p-kad-dht and the project's own packages,
// run against honest supernodes and leaves, each attack's outcome counted
// (attempts, successes) and checked against its bound.
//
// Honest supernodes and attackers listen on distinct loopback addresses
// (127.0.77.x and up): libp2p's TCP reuseport makes a host's outgoing
// connections carry its listen address, so every host has a network
// prefix of its own and supernodes run with PrefixBits4 = 32 (one prefix
// per address), as they run with /24 on the Internet.
//
// What runs (docs/security.md has the threat model and the numbers):
//   - injection: unsigned ADD_PROVIDER from a stock kad-dht peer and raw
//     ones (also on the supernode rendezvous key), replica stores without a
//     supernode session, forged, expired, replayed and withdrawn-then-
//     replayed announcements, and addresses planted for a real leaf; what
//     is visible is read through leaf lookups, every supernode's Lookup, a
//     stock kad-dht client's FindProvidersAsync and raw GET_PROVIDERS to
//     every supernode;
//   - eclipse: k identities in one network prefix, keys ground to be the
//     XOR-closest to chosen CIDs, that accept stores, sign receipts and
//     drop everything;
//   - lying primary: a fake supernode that speaks the leaf protocol to a
//     real leaf.Agent and invents holders and replica counts;
//   - flood: 50 identities announcing 256-CID batches for 30 s against one
//     supernode process, with honest leaves measuring their lookups;
//   - web pages: cross-origin and foreign-Host requests to a leaf's HTTP
//     API and cross-site tracker GETs.
//
// Run it with `make attack` (testnet/attack/cmd/attack); a short version
// runs in `make test` (attack_test.go) and asserts every outcome.
package attack
