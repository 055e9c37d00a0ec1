// Package vrf implements the elliptic-curve verifiable random function
// ECVRF-EDWARDS25519-SHA512-TAI (suite string 0x03) of RFC 9381, keyed by a
// node's Ed25519 identity (crypto/ed25519 keys).
//
// A VRF is a keyed hash whose output can be checked by anyone holding the
// public key: Prove turns a private key and an input alpha into an 80-byte
// proof pi, Verify checks pi against the public key and alpha and returns the
// 64-byte output beta, and ProofToHash extracts beta from a proof without
// checking it (only do that for proofs already verified, or produced
// locally). For a given key and alpha there is exactly one proof that
// verifies and one beta, so beta is a pseudorandom value the prover cannot
// choose or grind; the relay lottery in package mix uses it as a ticket.
//
// # What this package owns
//
// The whole RFC 9381 pipeline for this one suite: try-and-increment
// encode_to_curve (RFC 9381 Section 5.4.1.1) salted with the public key,
// nonce generation as in RFC 8032 (Section 5.4.2.2), challenge generation over
// (Y, H, Gamma, U, V) truncated to 16 bytes (Section 5.4.3), proof decoding
// (Section 5.4.4) and public-key validation with validate_key = TRUE
// (Section 5.4.5). Curve and scalar arithmetic come from
// filippo.io/edwards25519; hashing from crypto/sha512.
//
// # Invariants
//
//   - Keys: the secret scalar x and the nonce prefix are derived from the
//     32-byte seed exactly as RFC 8032 Section 5.1.5 says (SHA-512 of the seed;
//     the clamped first half is x, the second half is the prefix). Like
//     crypto/ed25519.Sign, Prove uses the public key cached in the second half
//     of an ed25519.PrivateKey rather than recomputing x*B.
//   - Encodings are strict: Verify and ProofToHash accept only the canonical
//     RFC 8032 encoding of a point (y < p, and no sign bit on x = 0), a scalar
//     s below the group order, and a proof of exactly ProofSize bytes. Verify
//     also rejects public keys of small order (8*Y is the identity). Every
//     input is accepted or rejected with an error; nothing panics.
//   - Secret-dependent work (x*H, k*B, k*H, s = k + c*x, point encoding) uses
//     the constant-time operations of filippo.io/edwards25519. Variable-time
//     arithmetic appears only in Verify, on public data. As RFC 9381 notes for
//     every TAI suite, the number of encode_to_curve attempts depends on alpha
//     and the public key, so Prove's running time leaks alpha: do not use this
//     suite where alpha must stay secret.
//
// # Errors
//
// Callers branch with errors.Is on ErrInvalidPrivateKey (Prove),
// ErrInvalidPublicKey and ErrInvalidProof (Verify, ProofToHash). Returned
// errors wrap these sentinels with the specific reason.
//
// # Concurrency
//
// The package has no state: Prove, Verify and ProofToHash are pure functions
// and safe for concurrent use. They do not retain their argument slices.
package vrf
