// Package dm is the deterministic core of fog's direct messages: end to
// end between two nodes' chat keys (package chat), delivered over a direct
// stream, through the mix, or to the recipient's mailboxes.
//
// Session is a Noise_XX_25519_ChaChaPoly_SHA256 session (as BitChat's)
// between two chat keys; each side's signed ChatKey travels inside the
// handshake, so a session is only ever established with the key the
// expected peer signed. Its transport frames carry an explicit key epoch
// and counter: a 64-message replay window refuses copies, and each
// direction moves to a fresh key (Noise's REKEY) after Config.RekeyMessages
// messages or Config.RekeyInterval, the receiver following the epoch and
// dropping the old keys. Seal and Open are a one-way Noise X envelope to a
// published chat key, for routes without a round trip (mailboxes, the mix).
//
// Node is one node's DMs as a state machine in the manner of mixnet.Node:
// Send, Receive, SetPeer, SetKey, MarkRead and Tick take the time and
// return effects (SendOnline, StoreInMailbox, SendAnonymous, LookupKey,
// Deliver, StateChanged). Every message has a random 16-byte ID and a
// per-recipient sequence number; it goes Pending → Sent → Delivered → Read
// on receipts, or Failed at its expiry, and is retried with exponential
// backoff until one or the other. Receivers deliver each ID once, and
// acknowledge every copy. The shell decides the routes' inputs (is the peer
// online, did the user ask for anonymity); the core decides what to send
// where.
//
// Nothing here does I/O, reads a clock or starts a goroutine; randomness
// comes from the io.Reader given in. Decoders refuse rather than panic
// (fuzzed). Sessions and Nodes are not safe for concurrent use. Keys
// erased means the session's copies are zeroed; the Go runtime may keep
// stale copies in memory it has not reused (the AEAD's key schedule, the
// garbage collector's moves), which no Go program can rule out. See
// docs/chat.md.
package dm
