package dm

import (
	"crypto/cipher"
	"encoding/binary"
	"fmt"
	"io"
	"time"

	"github.com/flynn/noise"
	"github.com/libp2p/go-libp2p/core/peer"
	"golang.org/x/crypto/chacha20poly1305"

	"github.com/fog-compute/fog/chat"
)

// Transport frames:
//
//	offset size  field
//	     0    1  kind frameData
//	     1    8  session ID (the first bytes of the handshake hash)
//	     9    4  key epoch, big-endian
//	    13    8  counter within the epoch, big-endian
//	    21    n  ChaCha20-Poly1305 ciphertext and 16-byte tag
//
// The AEAD's nonce is Noise's (four zero bytes, the counter little-endian)
// and its associated data is the 21-byte header. A sender moves to the
// next epoch, whose key is Noise's REKEY of the last one, after
// Config.RekeyMessages messages or Config.RekeyInterval; the receiver
// follows the epoch in the header and erases the keys it leaves.
const (
	sidSize       = 8
	dataHeader    = 1 + sidSize + 4 + 8
	tagSize       = chacha20poly1305.Overhead
	replayWindow  = 64 // counters behind the highest one still accepted once
	maxEpochSkip  = 16 // epochs a receiver derives forward in one step
	maxFrameBytes = noise.MaxMsgLen
)

// MaxPlaintext bounds what one transport message carries.
const MaxPlaintext = maxFrameBytes - dataHeader - tagSize

// Session is one end-to-end session between this node's chat key and a
// peer's: a Noise_XX_25519_ChaChaPoly_SHA256 handshake, then transport
// messages with explicit epochs and counters, a replay window and rekeying.
// Each side sends its signed ChatKey inside the handshake, so a session is
// established only with the static key the expected peer signed (and, if
// the caller gave one, the exact key it expected). It is a pure state
// machine: frames in, frames out, time passed in. A Session is not safe for
// concurrent use.
type Session struct {
	rekeyN uint64
	rekeyT time.Duration

	local     Keys
	peer      peer.ID
	expect    *[32]byte
	initiator bool
	hs        *noise.HandshakeState // nil once established or failed
	failed    bool

	remote *chat.ChatKey
	sid    [sidSize]byte
	send   sendState
	recv   recvState
}

type sendState struct {
	key   [32]byte
	aead  cipher.AEAD
	epoch uint32
	n     uint64
	since time.Time
	nonce [12]byte
}

type recvState struct {
	key   [32]byte
	aead  cipher.AEAD
	epoch uint32
	top   uint64 // highest counter received + 1; 0: none yet
	bits  uint64 // bit i: counter top-1-i received
	nonce [12]byte
}

// NewInitiator starts a session with remote and returns its first
// handshake frame. If expect is not nil, the session is established only
// if remote's static key is exactly *expect (its published ChatKey).
func NewInitiator(cfg Config, local Keys, remote peer.ID, expect *[32]byte, rnd io.Reader) (*Session, []byte, error) {
	s, err := newSession(cfg, local, remote, expect, rnd, true)
	if err != nil {
		return nil, nil, err
	}
	out, _, _, err := s.hs.WriteMessage([]byte{frameHS1}, nil)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %w", ErrHandshake, err)
	}
	return s, out, nil
}

// NewResponder answers remote's first handshake frame and returns the
// session and the second frame.
func NewResponder(cfg Config, local Keys, remote peer.ID, expect *[32]byte, rnd io.Reader, frame []byte) (*Session, []byte, error) {
	if len(frame) == 0 || frame[0] != frameHS1 || len(frame) > maxFrameBytes {
		return nil, nil, fmt.Errorf("%w: not a first handshake frame", ErrMalformed)
	}
	s, err := newSession(cfg, local, remote, expect, rnd, false)
	if err != nil {
		return nil, nil, err
	}
	payload, _, _, err := s.hs.ReadMessage(nil, frame[1:])
	if err != nil || len(payload) != 0 {
		return nil, nil, fmt.Errorf("%w: first message: %v", ErrHandshake, err)
	}
	enc, err := local.Record.Encode()
	if err != nil {
		return nil, nil, err
	}
	out, _, _, err := s.hs.WriteMessage([]byte{frameHS2}, enc)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %w", ErrHandshake, err)
	}
	return s, out, nil
}

func newSession(cfg Config, local Keys, remote peer.ID, expect *[32]byte, rnd io.Reader, initiator bool) (*Session, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if err := local.check(); err != nil {
		return nil, err
	}
	hs, err := noise.NewHandshakeState(noise.Config{
		CipherSuite:   suite,
		Random:        rnd,
		Pattern:       noise.HandshakeXX,
		Initiator:     initiator,
		Prologue:      []byte(sessionPrologue),
		StaticKeypair: local.dh(),
	})
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrHandshake, err)
	}
	s := &Session{rekeyN: cfg.RekeyMessages, rekeyT: cfg.RekeyInterval, local: local, peer: remote, initiator: initiator, hs: hs}
	if expect != nil {
		e := *expect
		s.expect = &e
	}
	return s, nil
}

// Handshake takes the next handshake frame from the peer (the initiator
// gets the second, the responder the third) and returns the frame to send
// back, if any (the initiator's third). After it, the session is
// established or failed for good.
func (s *Session) Handshake(now time.Time, frame []byte) ([]byte, error) {
	if s.hs == nil {
		return nil, fmt.Errorf("%w: handshake is over", ErrHandshake)
	}
	want := byte(frameHS3)
	if s.initiator {
		want = frameHS2
	}
	if len(frame) == 0 || frame[0] != want || len(frame) > maxFrameBytes {
		return nil, s.fail(fmt.Errorf("%w: want handshake frame %d", ErrHandshake, want))
	}
	payload, c1, c2, err := s.hs.ReadMessage(nil, frame[1:])
	if err != nil {
		return nil, s.fail(fmt.Errorf("%w: %w", ErrHandshake, err))
	}
	if err := s.checkRemote(payload); err != nil {
		return nil, s.fail(err)
	}
	var out []byte
	if s.initiator {
		enc, err := s.local.Record.Encode()
		if err != nil {
			return nil, s.fail(err)
		}
		out, c1, c2, err = s.hs.WriteMessage([]byte{frameHS3}, enc)
		if err != nil {
			return nil, s.fail(fmt.Errorf("%w: %w", ErrHandshake, err))
		}
	}
	if c1 == nil || c2 == nil {
		return nil, s.fail(fmt.Errorf("%w: handshake did not complete", ErrHandshake))
	}
	copy(s.sid[:], s.hs.ChannelBinding())
	send, recv := c1, c2 // c1 carries initiator → responder
	if !s.initiator {
		send, recv = c2, c1
	}
	s.send.key, s.recv.key = send.UnsafeKey(), recv.UnsafeKey()
	s.send.aead, _ = chacha20poly1305.New(s.send.key[:])
	s.recv.aead, _ = chacha20poly1305.New(s.recv.key[:])
	s.send.since = now
	s.hs = nil
	return out, nil
}

func (s *Session) fail(err error) error {
	s.hs, s.failed = nil, true
	return err
}

// checkRemote verifies the peer's handshake payload: its signed ChatKey,
// owned by the expected peer, naming the static key the handshake proved.
func (s *Session) checkRemote(payload []byte) error {
	k, err := chat.DecodeChatKey(payload)
	if err != nil {
		return fmt.Errorf("%w: remote chat key: %w", ErrHandshake, err)
	}
	if k.Owner != s.peer {
		return fmt.Errorf("%w: chat key of %s, want %s", ErrHandshake, k.Owner, s.peer)
	}
	if string(k.Public[:]) != string(s.hs.PeerStatic()) {
		return fmt.Errorf("%w: static key is not the signed chat key", ErrHandshake)
	}
	if s.expect != nil && k.Public != *s.expect {
		return fmt.Errorf("%w: static key is not the expected chat key", ErrHandshake)
	}
	s.remote = k
	return nil
}

// Established reports whether the handshake completed.
func (s *Session) Established() bool { return s.send.aead != nil }

// Failed reports whether the handshake failed; the session is useless.
func (s *Session) Failed() bool { return s.failed }

// Peer returns the peer the session is with.
func (s *Session) Peer() peer.ID { return s.peer }

// Remote returns the peer's verified ChatKey, once the handshake has
// checked it.
func (s *Session) Remote() *chat.ChatKey { return s.remote }

// Epochs returns the current key epochs of the send and receive
// directions.
func (s *Session) Epochs() (send, recv uint32) { return s.send.epoch, s.recv.epoch }

// Encrypt appends to dst the transport frame carrying plaintext, moving
// the send direction to a fresh key first if it is due (after
// Config.RekeyMessages messages or Config.RekeyInterval since the last).
func (s *Session) Encrypt(now time.Time, dst, plaintext []byte) ([]byte, error) {
	if !s.Established() {
		return nil, ErrNoSession
	}
	if len(plaintext) > MaxPlaintext {
		return nil, fmt.Errorf("%w: %d bytes, limit %d", ErrTooLarge, len(plaintext), MaxPlaintext)
	}
	st := &s.send
	if st.n >= s.rekeyN || (s.rekeyT > 0 && now.Sub(st.since) >= s.rekeyT) {
		if st.epoch == ^uint32(0) {
			return nil, fmt.Errorf("%w: key epochs exhausted", ErrNoSession)
		}
		st.key = rekey(&st.key)
		st.aead, _ = chacha20poly1305.New(st.key[:])
		st.epoch++
		st.n = 0
		st.since = now
	}
	start := len(dst)
	dst = append(dst, frameData)
	dst = append(dst, s.sid[:]...)
	dst = binary.BigEndian.AppendUint32(dst, st.epoch)
	dst = binary.BigEndian.AppendUint64(dst, st.n)
	binary.LittleEndian.PutUint64(st.nonce[4:], st.n)
	st.n++
	return st.aead.Seal(dst, st.nonce[:], plaintext, dst[start:]), nil
}

// Decrypt authenticates a transport frame and appends its plaintext to
// dst. A frame of another session is ErrNoSession; a tampered one
// ErrDecrypt; one received already, or from an epoch whose key was
// erased, ErrReplay. A failed frame changes nothing.
func (s *Session) Decrypt(dst, frame []byte) ([]byte, error) {
	if !s.Established() {
		return nil, ErrNoSession
	}
	if len(frame) < dataHeader+tagSize || len(frame) > maxFrameBytes || frame[0] != frameData {
		return nil, fmt.Errorf("%w: transport frame of %d bytes", ErrMalformed, len(frame))
	}
	if string(frame[1:1+sidSize]) != string(s.sid[:]) {
		return nil, fmt.Errorf("%w: frame of another session", ErrNoSession)
	}
	epoch := binary.BigEndian.Uint32(frame[9:13])
	n := binary.BigEndian.Uint64(frame[13:21])
	r := &s.recv
	switch {
	case epoch < r.epoch:
		return nil, fmt.Errorf("%w: epoch %d's key is erased (now %d)", ErrReplay, epoch, r.epoch)
	case epoch-r.epoch > maxEpochSkip:
		return nil, fmt.Errorf("%w: epoch %d too far ahead of %d", ErrDecrypt, epoch, r.epoch)
	case epoch == r.epoch:
		if n < r.top && (r.top-1-n >= replayWindow || r.bits&(1<<(r.top-1-n)) != 0) {
			return nil, fmt.Errorf("%w: counter %d of epoch %d", ErrReplay, n, epoch)
		}
		binary.LittleEndian.PutUint64(r.nonce[4:], n)
		out, err := r.aead.Open(dst, r.nonce[:], frame[dataHeader:], frame[:dataHeader])
		if err != nil {
			return nil, ErrDecrypt
		}
		r.mark(n)
		return out, nil
	}
	// A later epoch: derive its key, and keep it (erasing the older ones)
	// only if the frame authenticates under it.
	key := r.key
	for range epoch - r.epoch {
		key = rekey(&key)
	}
	aead, _ := chacha20poly1305.New(key[:])
	binary.LittleEndian.PutUint64(r.nonce[4:], n)
	out, err := aead.Open(dst, r.nonce[:], frame[dataHeader:], frame[:dataHeader])
	if err != nil {
		clear(key[:])
		return nil, ErrDecrypt
	}
	r.key, r.aead, r.epoch, r.top, r.bits = key, aead, epoch, 0, 0
	clear(key[:])
	r.mark(n)
	return out, nil
}

func (r *recvState) mark(n uint64) {
	if n < r.top {
		r.bits |= 1 << (r.top - 1 - n)
		return
	}
	shift := n + 1 - r.top
	if shift >= 64 {
		r.bits = 0
	} else {
		r.bits <<= shift
	}
	r.bits |= 1
	r.top = n + 1
}

// Erase zeroes the session's keys; it can no longer encrypt or decrypt.
func (s *Session) Erase() {
	clear(s.send.key[:])
	clear(s.recv.key[:])
	s.send.aead, s.recv.aead, s.hs = nil, nil, nil
	s.failed = true
}

// rekey is Noise's REKEY(k): the first 32 bytes of ENCRYPT(k, 2^64-1, "",
// 32 zero bytes). The old key is zeroed.
func rekey(k *[32]byte) [32]byte {
	cs := noise.UnsafeNewCipherState(suite, *k, 0)
	cs.Rekey()
	clear(k[:])
	return cs.UnsafeKey()
}
