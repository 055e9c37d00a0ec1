// Package binenc reads and writes the canonical binary encodings fog's own
// formats are built from (the task protocol, the task and result payloads,
// the job records): minimal uvarints, zigzag varints, and byte strings
// prefixed with their length. Canonical means there is exactly one encoding
// of every value, so a decoder that accepts only minimal varints lets the
// formats promise that whatever decodes re-encodes to the same bytes.
//
// A Reader never panics on any input and never allocates more than its
// input justifies: lengths and counts are checked against the bytes left
// before anything is sliced. Its first error sticks; callers read every
// field and check Err once.
//
// # Concurrency
//
// A Reader is not safe for concurrent use; the Append functions are.
package binenc
