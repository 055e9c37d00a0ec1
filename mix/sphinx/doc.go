// Package sphinx implements the Sphinx packet format (Danezis and
// Goldberg, "Sphinx: A Compact and Provably Secure Mix Format", 2009) as
// Katzenpost specifies it for a NIKE, with X25519: the onion packets fog's
// mix relays forward.
//
// A packet is a header and a payload. The header is a version, a group
// element (alpha), the routing information and an HMAC-SHA256 over the
// three. Each hop agrees on a shared secret from alpha and its routing
// key, derives its keys with HKDF-SHA256, checks the MAC, decrypts the
// routing information (AES-256-CTR), reads its routing commands
// (NextNodeHop, Recipient, SURBReply, NodeDelay), removes one layer of
// payload encryption and, if it forwards, blinds alpha for the next hop.
// The payload is encrypted with LIONESS (ChaCha20 and BLAKE2b), a
// wide-block cipher, under a zero tag: a change anywhere in the payload
// turns the plaintext into noise and the recipient finds the tag non-zero.
// SURBs (single-use reply blocks) let a recipient reply without learning
// the path back.
//
// Headers interoperate with Katzenpost's: for every case of Katzenpost's
// published X25519 vectors (testdata/sphinx_vectors.json) a hop unwraps to
// the same next-hop header and the same commands. Payloads do not
// (Katzenpost encrypts them with AEZ). docs/sphinx.md gives the geometry,
// every size and derivation, the differences from Katzenpost and fog's
// own vectors.
//
// The package is pure: no I/O, no clock, no goroutines; randomness comes
// from the caller's io.Reader. Every function is safe for concurrent use;
// Unwrap works in place on the packet it is given. Nothing panics on
// hostile input: decoders (Unwrap, ParseCommands, NewPacketFromSURB,
// DecryptSURBPayload) return errors wrapping the sentinels in errors.go.
// The replay cache is the caller's: Unwrap returns the tag to key it by.
package sphinx
