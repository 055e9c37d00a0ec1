// Package blob moves task modules between fog nodes and caches them.
//
// A task's module is a WebAssembly binary named by its SHA-256
// (wasm.ModuleID). This package owns where a node keeps modules and how it
// gets those it lacks.
//
// # The store
//
// A Store is a content-addressed cache: in Config.Dir, one file per module
// named by its ID in lowercase hex, or in memory when Dir is empty (the
// simulator). Its total size stays under Config.MaxBytes by evicting the
// least recently used modules (Get, a repeated Put and Pin count as use;
// serving a peer does not). A module can be pinned while a task needs it
// (Pin); eviction skips pinned modules and modules being read, and a Put
// that cannot make room without them fails with ErrFull rather than exceed
// the cap. Modules above Config.MaxModuleBytes are refused (ErrTooLarge).
//
// Invariants:
//   - A module is stored only under the SHA-256 of its bytes: Put computes
//     it, PutVerified checks it (ErrHashMismatch), and Get re-checks a file
//     it reads and drops a damaged one.
//   - A module file is complete or absent: it is written to a temporary
//     file, synced, and renamed into place (the directory is synced too).
//     Open removes temporary files a crash left behind.
//   - Recency lives in memory, and on disk as each file's modification
//     time, which Open takes as the initial order.
//
// # The blob protocol
//
// /fog/blob/1.0.0 (Protocol) carries one request per stream: the client
// sends a Request (33 bytes: an operation byte and the module ID) and
// closes its side; the server answers with a Header (9 bytes: a status and
// a big-endian 64-bit length) and, when found, exactly that many bytes of
// module, streamed in 64 KiB chunks. The server reads at most the 33 bytes
// of a request. Both sides bound a stream by Config.StreamTimeout overall
// and Config.IdleTimeout without progress, with a timer that resets the
// stream, which works on transports that ignore deadlines (the server
// through p2p.Limits, the client with the stream's deadlines too). A
// server serves at most Config.MaxServeStreams streams,
// Config.MaxServeStreamsPerPeer per peer, and answers StatusBusy beyond;
// each stream holds one 64 KiB buffer. A client refuses a length above
// Config.MaxModuleBytes before reading, grows its buffer only as bytes
// arrive, hashes them as they do, and returns them only if they hash to
// the ID asked for and nothing follows them. A peer that sends other bytes
// or breaks the format is named in the error (PeerError, FetchError) and
// reported to Options.OnBadPeer.
//
// # Fetching and announcing
//
// Service.Fetch returns a module from the store, or else downloads it from
// the peers it is hinted (the task's submitter), then from providers found
// in the DHT under ProviderKey(id), one peer after another, verifying each
// copy, and stores it. Concurrent fetches of one module share a download;
// at most Config.MaxFetches downloads run at once. Every module stored
// (by Store.Put or by Fetch) is announced with Providers.Provide in the
// background, and Run announces them all again every
// Config.ReprovideInterval, since kad-dht forgets provider records after
// 48 hours. Evicted modules are not withdrawn (the DHT cannot); their
// records expire, and a peer asking meanwhile is told StatusNotFound.
//
// # Concurrency
//
// Store and Service are safe for concurrent use. A Service owns its
// goroutines (the announcer, its announcements, shared downloads, and the
// handlers of streams it serves); Close resets the streams it serves,
// cancels downloads and announcements, and waits for all of them. A Store
// starts no goroutine and needs no closing.
package blob
