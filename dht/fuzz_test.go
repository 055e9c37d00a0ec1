package dht

import (
	"bytes"
	"testing"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
)

// FuzzDecodeRecord feeds arbitrary keys and values to the record decoder
// (what a peer's PUT_VALUE hands us): it must never panic, and whatever it
// accepts must re-encode to the same bytes and select as itself.
func FuzzDecodeRecord(f *testing.F) {
	k, _, _ := crypto.GenerateEd25519Key(bytes.NewReader(make([]byte, 64)))
	r, _ := SignRecord(k, "name", 1, []byte("value"))
	f.Add(r.Key(), r.Marshal())
	f.Add(r.Key(), r.Marshal()[:10])
	f.Add("/fog/x/y", []byte("fogrec1\x00\x01\x00\x00"))
	f.Add("/fog/"+peer.ID("").String()+"/n", []byte{})
	f.Fuzz(func(t *testing.T, key string, data []byte) {
		rec, err := DecodeRecord(key, data)
		if err != nil {
			return
		}
		if string(rec.Marshal()) != string(data) {
			t.Fatalf("accepted record does not re-encode to its input")
		}
		if i, err := (Validator{}).Select(key, [][]byte{data}); err != nil || i != 0 {
			t.Fatalf("accepted record not selectable: %d %v", i, err)
		}
	})
}
