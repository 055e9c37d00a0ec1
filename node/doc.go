// Package node is a fog node's composition root: it reads the configuration
// (config.toml in the data directory), opens the store, builds the libp2p
// host, starts the node's services in dependency order under a supervisor
// that checks their health and restarts a failed one with exponential
// backoff, serves the local JSON-RPC 2.0 API and Prometheus metrics, and
// stops everything in reverse order.
//
// # Data directory
//
// A node lives in a data directory (DataDir): config.toml, identity.key
// (the Ed25519 identity, mode 0600), api.token (the API bearer token, mode
// 0600), api.addr (written while the daemon runs: where its API listens) and
// store/ (Badger). Init creates one; Start runs it; Dial connects a client to
// its daemon.
//
// # Invariants
//
//   - Every API request must carry "Authorization: Bearer <token>"; others
//     get HTTP 401 and an empty body.
//   - Services stop in the reverse of their start order; the host closes
//     (every stream and connection) before the store, so nothing writes to a
//     closed store.
//   - A service's panic or error restarts that service, never the node.
//
// # Concurrency
//
// Node, API and Client methods are safe for concurrent use. The node owns
// every goroutine it starts and stops them in Close, which is idempotent.
package node
