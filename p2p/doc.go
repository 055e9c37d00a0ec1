// Package p2p owns a fog node's libp2p host: its Ed25519 identity, the
// transports it listens on (TCP and QUIC), the security (Noise, TLS) and
// multiplexing (yamux) it negotiates, libp2p's resource manager with limits
// scaled to the machine, the connection manager, a connection gater fed by a
// persistent ban list, the optional NAT helpers (AutoNAT, hole punching,
// the relay client with AutoRelay reservations among the connected peers,
// the circuit relay v2 service while publicly reachable), mDNS discovery
// on a LAN, the bootstrap list that the node
// keeps dialling in the background, and the naming and version negotiation
// of fog's protocol IDs.
//
// # Invariants
//
//   - The identity key file is only read when it is private to its owner
//     (no group or other permission bits); LoadIdentity refuses any other.
//   - A banned peer is never accepted nor dialled while its ban lasts, and
//     the ban list survives restarts (it lives in a go-datastore, which the
//     node backs with Badger).
//   - Protocol IDs are /fog/<name>/<major.minor.patch>; a node serves every
//     version it supports and [Protocol.Open] asks for the highest first, so
//     peers settle on the highest common version.
//   - Every fog protocol is served through [Protocol.Handle] within
//     [Limits]: streams in all and per peer, and idle and lifetime deadlines
//     that reset the stream, enforced in fog's own code so that they hold
//     on any host. Peers that speak a fog protocol are tagged in the
//     connection manager ([TagValue]), so idle ones are trimmed first.
//   - The resource manager limits inbound connections (MaxInboundConns,
//     which ConnHigh stays below), connections per peer and per IP address
//     (loopback exempt unless ConnLimitExempt says otherwise), and the
//     inbound streams of the protocols in Config.Protocols.
//   - A peer opens new inbound streams no faster than Config.StreamRate
//     (a token bucket per peer, StreamBurst deep, at most StreamRatePeers
//     buckets): beyond it the resource manager refuses the stream before
//     its protocol is negotiated, and a peer refused StreamRateStrikes
//     times within a minute is disconnected and suspended in the BanList
//     (in memory) for StreamRateSuspend. Streams of the exempt protocols
//     (Bitswap's) give their token back once negotiated. Hosts built by
//     Attach (mocknet) have no resource manager and no such limit.
//
// # Concurrency
//
// [Host], [BanList] and [Bootstrapper] are safe for concurrent use. Host owns
// the goroutines it starts (bootstrapper, mDNS) and stops them in Close,
// which is idempotent.
package p2p
