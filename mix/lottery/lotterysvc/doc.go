// Package lotterysvc runs the relay lottery on a node: it is the thin shell
// around the deterministic core of package lottery (lottery.Node), and does
// the I/O the core does not.
//
//   - Gossip: it joins the topic TopicName(NetworkID), hands every message
//     to the Node from gossip's validator chain and maps the Node's
//     Verdict onto gossip's (so a peer that forwards an invalid claim loses
//     score), and publishes what the Node's effects say.
//   - Persistence: in the Datastore the node gives it (Badger through
//     package store), the own claim of a PublishClaim effect, synced before
//     the claim is published; every Record effect, batched; and the
//     Node's Snapshot. Run hands them back to Node.Start after a restart.
//   - Timers: one goroutine, owned by Run, sleeps until the Node's
//     NextTick (or the next flush) on the injected clock (Options.Clock)
//     and ticks the Node.
//   - Queries for RPC and the simulator: Status, Directory, DirectoryInfo,
//     MixKey, Closed, Stats, and MeasureAgreement across Services.
//
// It takes no protocol decision of its own: which messages to accept,
// whether to trust or adopt a seed chain, what to excuse and what to
// persist are the Node's. docs/lottery.md, section 11, describes the
// wiring.
//
// # Concurrency
//
// A Service is safe for concurrent use. Run owns its goroutine (stopped by
// cancelling Run's context); gossip's validator goroutines and the queries
// call into the Node under the Service's lock, so the Node sees one input
// at a time.
//
// # Tests
//
// The network tests run whole Services on a mocknet inside a
// testing/synctest bubble, where time is virtual: the schedule is exact
// however loaded the machine is. BenchmarkNetworkAgreement runs on the
// wall clock and measures the machine.
package lotterysvc
