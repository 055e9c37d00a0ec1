// Package wire is the task protocol's wire format: its messages, their one
// encoding each, the frame reader that bounds a peer's frames before
// reading them, the hash replicas agree on (ResultHash) and the bytes a
// provider signs for a result (SigningBytes, Sign, Verify). It does no
// I/O beyond the reader and writer it is given and holds no state; its
// functions are safe for concurrent use. Package compute speaks it.
//
// # The task protocol, /fog/task/1.1.0 (and 1.0.0)
//
// One stream carries one task of one submitter (the stream's
// authenticated remote peer). Every message is a frame:
//
//	type    byte (MsgType)
//	length  uvarint (minimal), the body's size
//	body    the fields below, in order
//
// Integers are minimal uvarints unless said otherwise; strings and byte
// strings are a uvarint length and the bytes; a time is unix milliseconds
// (0: none); nothing may follow the last field. The submitter sends:
//
//	1 Submit  task ID | priority (zigzag) | crash policy byte (0 rerun,
//	          1 fail) | max price | deadline | task (runner.EncodeTask of
//	          the run: module ID, limits, args, env, stdin, flags; no code)
//	2 Attach  task ID: the status and result of a task sent earlier
//	3 Cancel  task ID: cancel it (after Submit or Attach on the same
//	          stream, or as the first message of a new one)
//
// and the provider answers:
//
//	4 Accept  (empty): the task is durably queued; Status and Result follow
//	5 Refuse  code byte (RefuseCode) | retry-after (ms) | reason
//	6 Status  byte (0 queued, 1 running), every Config.StatusInterval
//	7 Result  state byte (1 done, 2 failed, 3 cancelled) | kind byte (0
//	          none, 1 completed, 2 timeout, 3 memory-limit, 4 output-limit,
//	          5 invalid) | reason | output (runner.EncodeResult: exit code,
//	          stdout, stderr, usage, guest error) | signature
//	8 Output  stdout offset | stdout chunk | stderr offset | stderr chunk
//	          (since 1.1.0): output written since the last one
//
// A task ID is 1 to MaxTaskIDLen of a-z, 0-9 and '-'; a reason is at most
// MaxReasonLen bytes, a signature MaxSignatureLen, an Output chunk
// MaxOutputChunk. The signature is the provider's identity key's over
// SigningBytes: "fog/task/result/1\x00", the task ID, the submitter and
// provider peer IDs (binary), the ResultHash (zero for a result without a
// kind), then the state, kind, reason and output as sent.
//
// A provider sends Output only on a stream that negotiated /fog/task/1.1.0
// or later (CarriesOutput): 1.0.0 peers never see one. Output is a
// preview from one provider, unsigned; the Result is the authority.
//
// Conversations: Submit → Refuse, or Accept → (Status | Output)* →
// Result; Attach (or Submit of a task the provider already holds) →
// Accept → Status* → Result; Attach or Cancel of a task the provider does
// not hold → Refuse (RefuseUnknown). Package compute documents the
// timeouts and limits each side applies.
//
// # Invariants
//
// Every decoder of network input (ReadMessage, DecodeMessage) bounds
// sizes before allocating, rejects rather than panics, and accepts only
// canonical encodings: DecodeMessage and EncodeMessage are inverses, and
// EncodeMessage refuses what a peer's decoder would reject.
package wire
