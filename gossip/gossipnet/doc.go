// Package gossipnet builds in-process gossip networks on libp2p's mocknet
// for tests and the simulator: honest nodes with real gossipsub over links
// with latency (Network), and raw-protocol hostile peers (Attacker) that
// speak gossipsub directly and send what gossip's own wrapper never would:
// garbage, oversized messages, corrupt signatures, adverts claiming another
// node, replayed stale adverts and floods.
//
// # Concurrency
//
// Network and Attacker are safe for concurrent use. Each owns the
// goroutines it starts and stops them in its idempotent Close; an
// Attacker's Close does not close its host (the Network's mocknet does).
package gossipnet
