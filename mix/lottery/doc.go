// Package lottery is fog's relay lottery: who serves as a mix relay in
// each epoch, in which layer, under which mix key, and the public
// randomness (the epoch seed) that the draw uses. Its deterministic core
// owns the sortition, the seed chain, the claim and reveal wire formats,
// their verification, and the per-epoch relay directory; its Service runs
// that core on a node over gossip, with persistence, and is what RPC and
// the simulator use. docs/lottery.md is the full specification, with the
// seed's limits, the wiring and the measured figures.
//
// # How an epoch works
//
// Time is cut into epochs of Config.EpochLength from Config.Genesis. Each
// candidate with weight w (StakeOracle) evaluates the VRF of package mix/vrf
// with its Ed25519 identity key over (domain, network ID, epoch, seed) and
// wins Seats(beta, w, p) seats, the number of successes of w Bernoulli
// trials with p = TargetRelays / total weight (binomial sortition, as in
// Algorand), so about TargetRelays seats are won per epoch and splitting
// stake across identities gains nothing. A winner serves the layer
// Layer(beta, Layers) and publishes a Claim: the proof, the epoch and seed,
// its seats and layer, and a fresh X25519 mix key, all signed by its
// identity. Every node checks every claim (Claim.Verify) and collects the
// valid ones in the epoch's Directory until the claim window closes. Near
// the end of the epoch each relay publishes a Reveal, a second VRF proof;
// the smallest reveal output received before the epoch ends goes into the
// next seed (NextSeed). State runs this schedule for one node.
//
// # Running it on a node
//
// Service is the node's lottery: it drives a State with the node's clock,
// carries claims, reveals and candidacies on the gossip topic
// TopicName(NetworkID) and maps the State's verdicts onto gossip's (a peer
// that forwards a forged claim loses score), persists this node's claims
// and mix keys before publishing them together with a log of what it
// received (so a restart rebuilds the exact state and never equivocates),
// adopts the network's seed chain when it joins late, and answers
// questions about epochs, directories and wins (Status, Directory,
// DirectoryInfo, MixKey, Closed, MeasureAgreement). The candidate set comes
// from ServiceConfig.Candidates (fixed), from a StakeOracle, or from
// candidacies announced over gossip into a CandidateBook.
// docs/lottery.md section 11 describes the wiring.
//
// # Invariants
//
//   - Determinism: Seats, Layer, NextSeed, Verify and Directory.Digest
//     depend only on their inputs and give the same result on every
//     platform (no floating-point library calls; see Seats). Two States fed
//     the same messages at the same clock readings produce the same effects.
//   - A directory holds at most one claim per claimant; a claimant with two
//     different valid claims for an epoch is excluded from it, and any two
//     directories with the same claims and exclusions have the same Digest,
//     whatever order the messages arrived in.
//   - Decoders (DecodeClaim, DecodeReveal, State.Receive) reject every
//     malformed input with an error wrapping ErrMalformed and never panic.
//   - State keeps the current epoch and Config.KeepEpochs before it, and at
//     most Config.MaxPending buffered messages: its memory is bounded.
//
// # Concurrency
//
// The functions are pure and safe for concurrent use. Directory and State
// are not safe for concurrent use: State is meant to be owned by one
// goroutine (or by the simulator's event loop) and hands out Directory
// copies. UniformStake, CandidateBook and Service are safe for concurrent
// use; a Service's Run owns its goroutine (stopped by cancelling Run's
// context) and serialises every call into its State under one lock.
package lottery
