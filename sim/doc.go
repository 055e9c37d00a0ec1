// Package sim is fog's network simulator: it runs hundreds of real fog
// nodes (node.Start with real hosts, DHTs, gossip, Badger stores in memory
// and wazero executors) in one process, their libp2p hosts on libp2p's
// mocknet instead of sockets. A Network gives every pair of nodes a link
// with a latency drawn from the seed, an optional bandwidth and loss, and
// lets a scenario stop, crash (keeping the node's store, as a disk would)
// and restart nodes, partition the network and heal it. Nothing in it
// touches the machine's network.
//
// The scenarios, each with a Default…Scenario and a Run that returns the
// figures `fog sim` prints and docs/bench.md records:
//
//   - DHTScenario: lookups between random running nodes, with no faults,
//     under churn, or across a partition that heals;
//   - GossipScenario: how capacity adverts spread and directories converge,
//     optionally with attacker hosts (gossip/gossipnet) flooding invalid,
//     oversized and replayed messages;
//   - ComputeScenario: tasks submitted from random nodes while nodes churn,
//     each of which must reach a terminal state;
//   - LotteryScenario: whether every node holds the same relay directory
//     each epoch;
//   - ChatScenario: direct messages between online nodes and to nodes that
//     are away (mailboxes under churn), and a channel's history across a
//     partition that heals;
//   - MixScenario: messages over the relay lottery's mix, with what a
//     global passive observer learns from the frames' timing;
//   - SoakScenario: every kind of traffic at once for a long while, with
//     the process's live heap, goroutines and open files sampled and a
//     line fitted to each to catch a leak.
//
// A seed fixes every random choice (keys, links, bootstrap peers, faults,
// workloads), but goroutine scheduling still moves timings, so figures are
// compared across runs as distributions, not as exact numbers. A Network's
// methods are safe for concurrent use; the scenarios are values, and Run
// owns the network it builds and closes it before it returns.
package sim
