// Package lottery is fog's relay lottery: who serves as a mix relay in
// each epoch, in which layer, under which mix key, and the public
// randomness (the epoch seed) that the draw uses. It is the lottery's
// deterministic core: the sortition, the seed chain, the claim, reveal and
// candidacy wire formats, their verification, the per-epoch relay
// directory, and the whole protocol of one node as a state machine (Node).
// It does no I/O, starts no goroutine and reads no clock: time comes in as
// arguments. Package lotterysvc is its shell, which runs a Node on a node
// over gossip, with persistence and timers; RPC and the simulator use that.
// docs/lottery.md is the full specification, with the seed's limits, the
// core/shell split, the wiring and the measured figures.
//
// # How an epoch works
//
// Time is cut into epochs of Config.EpochLength from Config.Genesis, or by
// Config.Epochs, a Schedule whose length changes at epoch boundaries while
// the epoch numbers (and the seed chain) run on. Each
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
// # One node's protocol
//
// Node wraps a State with every decision a node takes around it: the
// candidate set (fixed, a StakeOracle, or candidacies announced into a
// CandidateBook) and its own candidacy; whether to trust its seed chain
// and, if not, which seed to adopt from the claims it sees (a node that
// joined late or restarted across a window); which failures to excuse
// because nodes may disagree on the candidate set; and what to persist so
// that a restart rebuilds the exact state and never equivocates. Inputs
// are Start (with what the driver saved), Receive (a Message) and Tick;
// outputs are a Verdict for gossip and Effects: publish a claim, reveal or
// candidacy, persist a Record or an OwnClaim, a directory closed, an epoch
// started, a chain adopted. The tests drive Nodes on a discrete-event
// network, without gossip or a store.
//
// # Invariants
//
//   - Determinism: Seats, Layer, NextSeed, Verify and Directory.Digest
//     depend only on their inputs and give the same result on every
//     platform (no floating-point library calls; see Seats). Two States,
//     or two Nodes, fed the same inputs at the same clock readings produce
//     the same effects.
//   - A directory holds at most one claim per claimant; a claimant with two
//     different valid claims for an epoch is excluded from it, and any two
//     directories with the same claims and exclusions have the same Digest,
//     whatever order the messages arrived in.
//   - Decoders (DecodeClaim, DecodeReveal, DecodeCandidacy, DecodeMessage,
//     State.Receive) reject every malformed input with an error wrapping
//     ErrMalformed and never panic.
//   - State keeps the current epoch and Config.KeepEpochs before it, and at
//     most Config.MaxPending buffered messages; a Node keeps at most two
//     claims per claimant and MaxPending in all for its seed decision: its
//     memory is bounded.
//   - The package imports no network, gossip or database package (a test
//     runs go list -deps) and calls no clock function (a test parses it).
//
// # Concurrency
//
// The functions are pure and safe for concurrent use. Directory, State and
// Node are not safe for concurrent use: each is meant to be owned by one
// goroutine (or by a simulator's event loop, or used under its driver's
// lock) and hands out Directory copies. UniformStake and CandidateBook are
// safe for concurrent use.
package lottery
