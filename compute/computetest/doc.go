// Package computetest builds in-process networks of fog compute nodes for
// tests, benchmarks and the simulator: real libp2p hosts on mocknet (from
// gossipnet), real gossip with the capacity directory and advertisers,
// Badger stores (in memory, or on disk with NetworkConfig.Dir), blob
// services, wazero executors and compute services, wired as a node wires
// them.
//
// Network.Crash takes a node down as a power cut would (its links vanish
// before it can say anything); Network.RestartCompute restarts a node's
// compute service cleanly on the same host and store, and
// Network.CrashRestartCompute on a copy of its store taken while it ran,
// as after a power cut. Network.AddHostile adds a raw-protocol provider
// that advertises like an honest node and answers tasks with whatever it
// is told to, validly signed: a lying provider.
//
// # Concurrency
//
// Network and Node are safe for concurrent use. A Network owns every
// goroutine it starts (each node's compute service and advertiser, each
// hostile provider's advertiser and handlers) and stops them in its
// idempotent Close.
package computetest
