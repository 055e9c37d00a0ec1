// Package chat holds what every part of fog's chat (BitChat on fog) shares:
// who a chat participant is, what they are called, and which key other
// nodes encrypt to them with.
//
// A chat identity is the node's libp2p identity (an Ed25519 key; its
// peer.ID names the participant). Two signed records hang off it:
//
//   - ChatKey binds an X25519 public key to the identity, with a creation
//     time and a sequence number. It is published (in the DHT, as the
//     signed record "chat/key") so that anyone can open an end-to-end
//     session with, or seal a message to, any peer it knows of, even one
//     that is offline now. The X25519 key is the static key of the Noise
//     handshakes of package chat/dm.
//   - Nick is a nickname claim: identity, nickname, sequence, time, signed.
//     A nickname is shown only after its claim verified, and always with
//     the identity's Fingerprint ("alice#1a2b3c4d"), so two people called
//     alice can be told apart. Book keeps the newest verified claim per
//     identity and resolves a name to its candidates, refusing an
//     ambiguous one (ErrAmbiguous lists the candidates).
//
// The chat subsystem's packages:
//
//   - chat: identity, names and chat keys (this package);
//   - chat/dm: direct messages end to end — the Noise XX session, the
//     one-shot sealed envelope for mailboxes and the mix, and the DM state
//     machine (IDs, receipts, retries, expiry, de-duplication);
//   - chat/mailbox: store-and-forward for recipients that are offline;
//   - chat/channel: group channels;
//   - chat/chatsvc (later): the shell that carries the cores' effects out
//     over libp2p streams, the mix, mailboxes, the DHT and the RPC API.
//
// This package and chat/dm are pure: no I/O, no clock (times are passed
// in) and randomness only from an io.Reader given in. Their encodings are
// canonical (one encoding per value), size-limited, and rejected rather
// than panicked on. A Book is not safe for concurrent use; the other types
// are values. See docs/chat.md.
package chat
