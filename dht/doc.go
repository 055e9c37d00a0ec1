// Package dht is a fog node's Kademlia DHTs: go-libp2p-kad-dht's dual DHT,
// as in kubo, with a WAN DHT speaking /fog/kad/1.0.0 among publicly
// reachable peers and a LAN DHT speaking /fog/lan/kad/1.0.0 among peers on
// the same private network or machine, so that nodes of one LAN find each
// other's records with no setting. Both keep their value and provider
// records in the node's Badger store, with a validator for fog's signed
// records, and their routing tables are saved to the store and taken back at
// start, so a node restarted after a crash can route at once.
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
// service) owns the refresh and snapshot loop of both tables; Close stops
// both DHTs.
package dht
