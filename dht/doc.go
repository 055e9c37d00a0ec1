// Package dht is a fog node's Kademlia DHT: go-libp2p-kad-dht speaking
// /fog/kad/1.0.0, keeping its value and provider records in the node's
// Badger store, with a validator for fog's signed records and a routing table
// that is saved to the store and restored at start, so a node restarted
// after a crash can route at once.
//
// Other subsystems use it to find peers, to announce and find providers of a
// key (task modules, chat mailboxes) and to publish and read signed records
// under /fog/<owner peer id>/<name>.
//
// # Invariants
//
//   - A record under /fog/<owner>/<name> is accepted only if it is signed by
//     <owner>'s identity key; of two valid records the higher sequence wins
//     (equal sequences: the smaller encoding, so every node chooses alike), and
//     a store of a record whose sequence is not higher than the one held is
//     rejected.
//   - Encoded records are at most MaxRecordLen bytes; DecodeRecord rejects
//     anything else without panicking.
//
// # Concurrency
//
// A DHT is safe for concurrent use. Run (the node supervises it as the "dht"
// service) owns the refresh and snapshot loop; Close stops the DHT.
package dht
