// Package mixnet is the deterministic core of fog's mix network: Sphinx
// packets (package sphinx) routed through the relays the lottery elected,
// with Poisson delays, cover traffic, acknowledgements, retransmission and
// single-use reply blocks, in the manner of Loopix, Katzenpost and Nym.
//
// A Node is one node's whole mix. As a sender it draws a route of one
// relay per layer from the newest directory (weighted by seats, never two
// on one node, avoiding relays whose loop packets stopped coming back),
// wraps the message with a reply block for its ACK, and sends it on the
// node's Poisson send stream; it sends the message again over a fresh route
// when the ACK is late, until the message's deadline. As a recipient it
// delivers each message once and acknowledges every copy. As a relay (in
// the epochs it holds a seat) it unwraps one layer, drops replays by the
// packet's replay tag, and holds the packet for the delay its header asks.
// With cover on, loop and drop packets keep the rate an observer sees on a
// node's links the same whether it talks or not.
//
// Frames between nodes are fixed-size: a kind byte (relay or endpoint
// key), the epoch whose relay keys the packet was made with, and the
// Sphinx packet. A node receives at its endpoint key, derived from its
// Ed25519 identity, so a sender needs only the recipient's node ID, and
// the last relay cannot read the payload. See docs/mix.md.
//
// A Node does no I/O, reads no clock and starts no goroutine: frames and
// time come in (Receive, Tick, Send, Reply), effects come out (Transmit,
// Deliver, Acked, Failed, PersistTag), and every random choice comes from
// the generator it was given, so a test replays a run exactly. Its shell,
// package mixsvc, carries frames over libp2p, persists replay tags and
// runs the timer. A Node is not safe for concurrent use.
package mixnet
