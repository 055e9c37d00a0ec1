// Package ledgerstore keeps a token.Ledger in the node's store: the
// token.Records a token.Node emits (blocks taken, confirmations), in
// order, under the store's /token prefix, and the genesis digest they
// descend from. Open replays them into a Ledger built from the same
// genesis, which rebuilds it exactly (the Ledger is deterministic).
//
// Keys (relative to the Datastore, as store.Key builds them):
//
//	/meta/genesis          the genesis digest (32 bytes)
//	/log/<seq, 20 digits>  one record: 'b' and a block encoding, or 'c' and a block hash
//
// # Invariants
//
//   - Append returns only once its records are durable: one batch, synced
//     by the store (Config.SyncWrites), so a node acknowledges a block or
//     a confirmation only after it survives a crash.
//   - Records are replayed in the order appended; a log that does not
//     replay (a record that does not decode or that the Ledger refuses)
//     makes Open fail with ErrCorrupt rather than start from a ledger that
//     differs from what was acknowledged.
//   - A store written for another genesis is refused (ErrGenesis).
//
// The log is never compacted yet: it grows by one record per block and
// one per confirmation.
//
// A Store is not safe for concurrent use; the shell serializes Append.
package ledgerstore
