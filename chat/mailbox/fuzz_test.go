package mailbox

import (
	"bytes"
	"crypto/ecdh"
	"errors"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
)

// FuzzDecodeRequest feeds arbitrary bytes to the request decoder (what a
// host reads from any peer): it must never panic, reject with
// ErrMalformed, and what it accepts must re-encode to its input.
func FuzzDecodeRequest(f *testing.F) {
	for _, r := range sampleRequests(f) {
		f.Add(r.marshal())
	}
	f.Add([]byte{})
	f.Add([]byte{opAck})
	f.Add(append([]byte{opAck}, make([]byte, 40)...))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := decodeRequest(b)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("rejection does not wrap ErrMalformed: %v", err)
			}
			return
		}
		if !bytes.Equal(r.marshal(), b) {
			t.Fatalf("accepted request does not re-encode to its input")
		}
		if len(r.ids) > MaxAckIDs || len(r.sealed) > MaxItemLimit || len(r.owner) > maxOwnerLen {
			t.Fatalf("accepted a request beyond the limits")
		}
	})
}

// FuzzDecodeResponse feeds arbitrary bytes to the response decoder (what a
// client reads from a host): it must never panic, reject with
// ErrMalformed, and what it accepts must re-encode to its input with IDs
// ascending.
func FuzzDecodeResponse(f *testing.F) {
	for _, r := range sampleResponses() {
		f.Add(r.marshal())
	}
	f.Add([]byte{1, 0, 0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := decodeResponse(b)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("rejection does not wrap ErrMalformed: %v", err)
			}
			return
		}
		if !bytes.Equal(r.marshal(), b) {
			t.Fatalf("accepted response does not re-encode to its input")
		}
		for i := 1; i < len(r.items); i++ {
			if bytes.Compare(r.items[i-1].id[:], r.items[i].id[:]) >= 0 {
				t.Fatalf("accepted IDs not ascending")
			}
		}
	})
}

// FuzzReadFrame feeds an arbitrary stream to the frame reader: it must
// never panic, never return more than the limit, and return exactly the
// body of a well-formed frame.
func FuzzReadFrame(f *testing.F) {
	var buf bytes.Buffer
	_ = writeFrame(&buf, []byte("hello"))
	f.Add(buf.Bytes())
	f.Add([]byte{0x80, 0x00})
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Add([]byte{0})
	f.Fuzz(func(t *testing.T, stream []byte) {
		const limit = 64
		got, err := readFrame(bytes.NewReader(stream), limit)
		if err != nil {
			return
		}
		if len(got) > limit {
			t.Fatalf("frame of %d bytes above the limit", len(got))
		}
		var w bytes.Buffer
		_ = writeFrame(&w, got)
		if !bytes.HasPrefix(stream, w.Bytes()) {
			t.Fatalf("accepted a frame that does not re-encode to the stream's start")
		}
	})
}

// FuzzDecodeRecord feeds arbitrary bytes to the decoder of stored items
// (a damaged store): it must never panic, reject with ErrMalformed, and
// what it accepts must re-encode to its input.
func FuzzDecodeRecord(f *testing.F) {
	id, _ := peer.Decode("12D3KooWJWoaqZhDaoEFshF7Rh1bpY9ohihFhzcW6d69Lr2NASuq")
	f.Add(record{from: id, expires: time.UnixMilli(1_700_000_000_000), sealed: make([]byte, SealOverhead)}.marshal())
	f.Add(record{from: id, deposited: time.UnixMilli(1_700_000_000_000), sealed: make([]byte, SealOverhead)}.marshal())
	f.Add([]byte{recordVersion})
	f.Add([]byte{2, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		rec, err := decodeRecord(b)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("rejection does not wrap ErrMalformed: %v", err)
			}
			return
		}
		if !bytes.Equal(rec.marshal(), b) {
			t.Fatalf("accepted record does not re-encode to its input")
		}
	})
}

// fuzzChatKey is the recipient key of FuzzOpen, fixed so that its corpus
// means the same on every run.
var fuzzChatKey = func() *ecdh.PrivateKey {
	k, err := ecdh.X25519().NewPrivateKey(bytes.Repeat([]byte{0x42}, 32))
	if err != nil {
		panic(err)
	}
	return k
}()

// FuzzOpen feeds arbitrary seals (what hosts return) to open: it must
// never panic, reject with ErrBadSeal, and open only what seal made.
func FuzzOpen(f *testing.F) {
	key, id := Key{1}, ItemID{2}
	// a fixed ephemeral key: every fuzz worker makes the same seal
	good, err := seal(bytes.NewReader(bytes.Repeat([]byte{7}, 32)), fuzzChatKey.PublicKey(), key, id, []byte("hello"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add(make([]byte, SealOverhead))
	f.Add(good[:SealOverhead])
	f.Fuzz(func(t *testing.T, sealed []byte) {
		payload, err := open(fuzzChatKey, key, id, sealed)
		if err != nil {
			if !errors.Is(err, ErrBadSeal) || payload != nil {
				t.Fatalf("bad rejection: %v", err)
			}
			return
		}
		if !bytes.Equal(sealed, good) {
			t.Fatalf("opened a seal nobody made")
		}
	})
}
