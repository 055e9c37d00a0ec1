// Package store owns a fog node's Badger v4 database and the go-datastore
// adapter its subsystems use.
//
// A node opens one DB (Open) in its data directory, or in memory for the
// simulator and tests (InMemoryConfig). Subsystems do not share keys: each
// gets a Datastore rooted at its own Prefix ("/dht", "/p2p", ...), so the
// Badger keys are /<subsystem>/<kind>/<id> as DESIGN lays out, and a query
// from one subsystem never sees another's keys. Key and ParseKey build and
// read the /<kind>/<id> part with ids escaped, so ids from the network
// cannot climb out of their kind. Subsystems that need Badger itself (raw
// transactions, iteration with their own options) use DB.Badger with keys
// from Prefix.Key.
//
// The Datastore implements go-datastore's Datastore, Batching, TTLDatastore,
// TxnDatastore, PersistentDatastore and GCDatastore, and passes
// go-datastore's own test suite on disk and in memory.
//
// # Invariants
//
//   - With Config.SyncWrites (the default), a Put, a Batch commit or a Txn
//     commit returns only after Badger has synced its write-ahead log: nothing
//     acknowledged is lost if the process crashes. Concurrent Puts and
//     Deletes share one transaction and one sync (group commit).
//   - Values are at most DB.MaxValueSize (1 MiB - 1 by default), so they all
//     stay in Badger's LSM tree: Badger v4.9.6's value-log GC can resurrect
//     deleted keys whose values live in the value log.
//   - A directory is open in at most one DB at a time; a second Open fails
//     with ErrLocked.
//   - Open verifies the files before Badger sees them: a missing MANIFEST
//     next to tables or logs, a table whose index or any block fails its
//     checksum, or a log damaged before its end make it fail with a
//     *CorruptError (ErrCorrupt) naming the file, without changing any
//     file and without the panics Badger v4.9.6 has on such files. At run
//     time Badger verifies each block it reads from disk and each value it
//     reads from the value log. Repair rebuilds a damaged directory from
//     what verifies, keeping the originals in a backup directory.
//   - A Datastore reads and writes only keys under its prefix.
//   - Missing keys are reported as datastore.ErrNotFound itself.
//
// # Concurrency
//
// DB, Datastore, Txn and the batches are safe for concurrent use. A DB owns
// one background goroutine (value-log GC, on disk) and one goroutine per
// running query; DB.Close stops them, waits for in-flight calls, discards
// transactions left open and closes Badger. Closing a Datastore only closes
// that view, never the shared DB.
package store
