package dm

import (
	"crypto/rand"
	"fmt"
	"testing"

	"golang.org/x/crypto/chacha20poly1305"

	"github.com/fog-compute/fog/internal/cputime"
)

var benchSizes = []int{200, 4 << 10}

// BenchmarkDMEstablished is the CPU of one DM on an established session:
// the sender's Encrypt and the receiver's Decrypt of one payload (the
// payload encoding included), buffers reused as a shell would.
func BenchmarkDMEstablished(b *testing.B) {
	_, _, ka := testKeys(b, 1)
	_, _, kb := testKeys(b, 2)
	for _, size := range benchSizes {
		b.Run(fmt.Sprintf("%dB", size), func(b *testing.B) {
			sa, sb := pair(b, testConfig(), ka, kb)
			p := payload{kind: kindText, seq: 1, sent: t0, expiry: t0.Add(1e12), body: make([]byte, size)}
			plain, err := p.encode()
			if err != nil {
				b.Fatal(err)
			}
			frame := make([]byte, 0, len(plain)+dataHeader+tagSize)
			out := make([]byte, 0, len(plain))
			b.SetBytes(int64(size))
			b.ReportAllocs()
			cpu0, _ := cputime.Process()
			for b.Loop() {
				f, err := sa.Encrypt(t0, frame[:0], plain)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := sb.Decrypt(out[:0], f); err != nil {
					b.Fatal(err)
				}
			}
			cpu1, _ := cputime.Process()
			b.ReportMetric(float64((cpu1-cpu0).Nanoseconds())/float64(b.N), "cpu-ns/op")
		})
	}
}

// BenchmarkChaCha20Poly1305Pair is the floor BenchmarkDMEstablished is
// compared with: one Seal and one Open of the same message with
// golang.org/x/crypto/chacha20poly1305, nothing else.
func BenchmarkChaCha20Poly1305Pair(b *testing.B) {
	key := make([]byte, chacha20poly1305.KeySize)
	_, _ = rand.Read(key)
	aead, err := chacha20poly1305.New(key)
	if err != nil {
		b.Fatal(err)
	}
	for _, size := range benchSizes {
		b.Run(fmt.Sprintf("%dB", size), func(b *testing.B) {
			msg := make([]byte, size)
			nonce := make([]byte, chacha20poly1305.NonceSize)
			ct := make([]byte, 0, size+tagSize)
			out := make([]byte, 0, size)
			b.SetBytes(int64(size))
			b.ReportAllocs()
			cpu0, _ := cputime.Process()
			for b.Loop() {
				c := aead.Seal(ct[:0], nonce, msg, nil)
				if _, err := aead.Open(out[:0], nonce, c, nil); err != nil {
					b.Fatal(err)
				}
			}
			cpu1, _ := cputime.Process()
			b.ReportMetric(float64((cpu1-cpu0).Nanoseconds())/float64(b.N), "cpu-ns/op")
		})
	}
}
