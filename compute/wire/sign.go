package wire

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/fog-compute/fog/compute/runner"
	"github.com/fog-compute/fog/compute/wasm"
	"github.com/fog-compute/fog/internal/binenc"
)

// Domain separators: a signature or hash made for one purpose can never
// be taken for another.
const (
	answerDomain = "fog/task/answer/1\x00"
	resultDomain = "fog/task/result/1\x00"
)

// ResultHash is the hash on which replicas of a task must agree: SHA-256
// over a domain separator, the answer's kind and what of the run is a
// function of the task alone:
//
//   - completed: the exit code, whether the guest trapped, stdout, stderr;
//   - memory-limit and output-limit: stdout and stderr (the output limit
//     cuts exactly; memory is refused at the same point on every host);
//   - timeout and invalid: nothing more (how far a run got before its wall
//     time ran out depends on the host, and error texts on its version).
//
// Usage (wall time, memory) never counts.
func ResultHash(kind Kind, r *wasm.Result) [32]byte {
	h := sha256.New()
	b := make([]byte, 0, 64)
	b = append(b, answerDomain...)
	b = append(b, kindByte(kind))
	switch kind {
	case KindCompleted:
		b = binary.AppendUvarint(b, uint64(r.ExitCode))
		trapped := byte(0)
		if r.Err != "" {
			trapped = 1
		}
		b = append(b, trapped)
		fallthrough
	case KindMemory, KindOutput:
		for _, out := range [...][]byte{r.Stdout, r.Stderr} {
			b = binary.AppendUvarint(b, uint64(len(out)))
			h.Write(b)
			h.Write(out)
			b = b[:0]
		}
	}
	h.Write(b)
	var sum [32]byte
	h.Sum(sum[:0])
	return sum
}

// SigningBytes is what a provider signs for a result: a domain separator,
// then the task ID, the submitter, the provider (each length-prefixed,
// peer IDs in their binary form), the result's hash (ResultHash, or 32
// zero bytes for a result without a kind), and the result itself (state,
// kind, reason, output). A signature binds the answer to one task of one
// submitter, so it can be neither replayed for another task nor claimed
// by another provider.
func SigningBytes(taskID string, submitter, provider peer.ID, hash [32]byte, m *ResultMsg) []byte {
	b := make([]byte, 0, len(resultDomain)+len(taskID)+len(submitter)+len(provider)+len(m.Reason)+len(m.Output)+64)
	b = append(b, resultDomain...)
	b = binenc.AppendString(b, taskID)
	b = binenc.AppendString(b, string(submitter))
	b = binenc.AppendString(b, string(provider))
	b = append(b, hash[:]...)
	b = append(b, stateByte(m.State), kindByte(m.Kind))
	b = binenc.AppendString(b, m.Reason)
	return binenc.AppendBytes(b, m.Output)
}

// DecodeOutput decodes a result's output and computes its ResultHash
// (zero for a result without a kind).
func (m *ResultMsg) DecodeOutput() (wasm.Result, [32]byte, error) {
	var res wasm.Result
	if len(m.Output) > 0 {
		var err error
		if res, err = runner.DecodeResult(m.Output); err != nil {
			return res, [32]byte{}, fmt.Errorf("%w: result output: %w", ErrMalformed, err)
		}
	}
	if m.Kind == "" {
		return res, [32]byte{}, nil
	}
	return res, ResultHash(m.Kind, &res), nil
}

// Sign signs m as the provider whose identity key is key, for task taskID
// of submitter.
func (m *ResultMsg) Sign(key crypto.PrivKey, taskID string, submitter peer.ID) error {
	provider, err := peer.IDFromPrivateKey(key)
	if err != nil {
		return fmt.Errorf("wire: sign result: %w", err)
	}
	_, hash, err := m.DecodeOutput()
	if err != nil {
		return err
	}
	sig, err := key.Sign(SigningBytes(taskID, submitter, provider, hash, m))
	if err != nil {
		return fmt.Errorf("wire: sign result: %w", err)
	}
	m.Signature = sig
	return nil
}

// ErrBadSignature: a result's signature does not verify.
var ErrBadSignature = errors.New("wire: bad result signature")

// Verify checks that m is provider's signed result for task taskID of
// submitter, and returns its decoded output and ResultHash. pub is the
// provider's public key, or nil to extract it from the peer ID (which
// works for Ed25519 and other inlined keys).
func (m *ResultMsg) Verify(taskID string, submitter, provider peer.ID, pub crypto.PubKey) (wasm.Result, [32]byte, error) {
	res, hash, err := m.DecodeOutput()
	if err != nil {
		return res, hash, err
	}
	if pub == nil {
		if pub, err = provider.ExtractPublicKey(); err != nil {
			return res, hash, fmt.Errorf("%w: no public key for %s: %w", ErrBadSignature, provider, err)
		}
	}
	ok, err := pub.Verify(SigningBytes(taskID, submitter, provider, hash, m), m.Signature)
	if err != nil || !ok {
		return res, hash, fmt.Errorf("%w: from %s", ErrBadSignature, provider)
	}
	return res, hash, nil
}
