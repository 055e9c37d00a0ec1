// Package files shares and fetches files the way IPFS does, so that an IPFS
// client connected to a fog node can fetch and verify what it shares.
//
// A file is imported as UnixFS (boxo's importer): cut into leaves of
// Config.ChunkBytes kept as raw blocks, linked by a balanced DAG of dag-pb
// nodes of up to 174 links, every CID version 1 with SHA-256 — the DAG
// kubo's `ipfs add --cid-version=1` builds. Blocks live in files of their
// own in Options.Dir, beside the node's Badger store (in memory when Dir
// is ""), behind boxo's blockstore interface; pins live in the store
// (Options.Datastore, under store.PrefixFiles). Blocks are exchanged with
// boxo's Bitswap on its own protocol IDs (/ipfs/bitswap/1.2.0 and older)
// on the node's libp2p host. The roots of the files a node keeps are announced as provider
// records in fog's DHT (the Router), again every
// Config.ReprovideInterval.
//
// # Gets
//
// Get fetches a file level by level, in windows of Config.Window blocks,
// each window in a Bitswap session of its own fed with the providers the
// DHT names for the root, the peers the caller gives and the peers
// connected: the session asks every peer which blocks it has and sends
// its wants to the first that does. A level starts with
// Config.FirstWindows windows and one more starts for each that
// completes, up to Config.Windows at once, so the first wave does not go
// to one source whole. The want-blocks outstanding at each source are
// capped (what it sends in Config.SourceBacklog at its measured rate, at
// least two windows): the HAVEs of a source at its cap are held back
// until it has room, so a window goes to a source that has room rather
// than to the one that answers first. A block stored is never fetched
// again, and a get pins its root (incomplete) before the rest arrives, so
// a get cut short — by its context, or a crash of either side — resumes
// from what was stored. Start runs a get in the background and writes the
// file out; TransferOf reports its progress, Shares the shares under way,
// and Changed is closed at each change of either.
//
// # Invariants
//
//   - Every block stored from the network matches its CID: Bitswap
//     computes a received block's CID from its bytes, and only blocks
//     whose CID was wanted are stored. A peer that sends blocks whose CIDs
//     nobody asked for (bytes that match no want) is scored down and, at
//     Config.MaxBadBlocks, dropped for Config.DropFor: every session
//     forgets it, its connections are closed, its messages are ignored,
//     and Options.OnBadPeer is told.
//   - A file above Config.MaxFileBytes is neither shared nor fetched (a
//     get reads the size the root declares, and stops a DAG that grows
//     past it), and the blocks held never pass Config.MaxStorageBytes
//     (ErrStorageFull).
//   - A block Put acknowledged is on disk whole (written to a temporary
//     file, synced, renamed, its directory synced); a kill leaves each
//     block file whole or absent. Every block read is hashed and compared
//     with its CID: one the disk damaged is deleted and reported not
//     found, never served.
//   - Garbage collection (GC, and Remove after an unpin) deletes exactly
//     the blocks no pin reaches, sparing those written while it runs.
//   - Inbound Bitswap streams are served within p2p.Limits (Config.Streams,
//     Config.StreamsPerPeer, Config.StreamIdle).
//
// # Concurrency
//
// A Service is safe for concurrent use. It owns Bitswap's goroutines, the
// transfers started with Start and its announcements; Close stops them
// and waits.
package files
