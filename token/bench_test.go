package token

import (
	"crypto/ed25519"
	"slices"
	"testing"
	"time"
)

// BenchmarkValidate measures block validation against one Ed25519
// verification in the same benchmark: each iteration verifies one
// signature over a 32-byte hash with ed25519.Verify, then decodes and
// applies one block (Ledger.Apply: hash, signature, chain, arithmetic,
// sources), and reports the median time of each and the ratio of the
// medians (medians, because on a shared machine a preemption lands on one
// half or the other).
func BenchmarkValidate(b *testing.B) {
	for _, kind := range []Kind{KindSend, KindReceive} {
		b.Run(kind.String(), func(b *testing.B) {
			// Build b.N blocks on a scratch ledger.
			scratch := newLedger(b, 1<<62, 0)
			w0, w1 := NewWallet(scratch, key(0)), NewWallet(scratch, key(1))
			var setup, blocks [][]byte
			for range b.N {
				s, err := w0.Send(acct(1), 1, 1)
				if err != nil {
					b.Fatal(err)
				}
				h := applyConfirm(b, scratch, s, nil)
				r, err := w1.Receive(h, 1)
				if err != nil {
					b.Fatal(err)
				}
				applyConfirm(b, scratch, r, nil)
				if kind == KindSend {
					blocks = append(blocks, s.Encode())
				} else {
					setup = append(setup, s.Encode())
					blocks = append(blocks, r.Encode())
				}
			}
			l := newLedger(b, 1<<62, 0)
			for _, p := range setup {
				s, _ := DecodeBlock(p)
				applyConfirm(b, l, s, nil)
			}
			pub := key(2).Public().(ed25519.PublicKey)
			msg := Hash{9}
			sig := ed25519.Sign(key(2), msg[:])
			verify := make([]time.Duration, 0, b.N)
			apply := make([]time.Duration, 0, b.N)
			b.ResetTimer()
			for i := range b.N {
				t0 := time.Now()
				if !ed25519.Verify(pub, msg[:], sig) {
					b.Fatal("verify")
				}
				t1 := time.Now()
				blk, err := DecodeBlock(blocks[i])
				if err == nil {
					_, err = l.Apply(blk)
				}
				t2 := time.Now()
				if err != nil {
					b.Fatal(err)
				}
				verify = append(verify, t1.Sub(t0))
				apply = append(apply, t2.Sub(t1))
			}
			b.StopTimer()
			slices.Sort(verify)
			slices.Sort(apply)
			mv, ma := verify[len(verify)/2], apply[len(apply)/2]
			b.ReportMetric(float64(mv.Nanoseconds()), "verify-ns-median")
			b.ReportMetric(float64(ma.Nanoseconds()), "validate-ns-median")
			b.ReportMetric(float64(ma)/float64(mv), "validate/verify")
		})
	}
}

// BenchmarkNodeTransfer measures one representative's node taking a
// transfer (a send and its receive) and confirming both by its own votes:
// validation, the elections and the votes signed, without persistence.
func BenchmarkNodeTransfer(b *testing.B) {
	scratch := newLedger(b, 1<<62, 0)
	w0, w1 := NewWallet(scratch, key(0)), NewWallet(scratch, key(1))
	var blocks []Block
	for range b.N {
		s, _ := w0.Send(acct(1), 1, 1)
		h := applyConfirm(b, scratch, s, nil)
		r, _ := w1.Receive(h, 1)
		applyConfirm(b, scratch, r, nil)
		blocks = append(blocks, s, r)
	}
	cfg := DefaultConfig()
	cfg.MinOnlinePercent = 0
	n, err := NewNode(cfg, newLedger(b, 1<<62, 0), []ed25519.PrivateKey{key(0)})
	if err != nil {
		b.Fatal(err)
	}
	now := time.Unix(0, 0)
	b.ResetTimer()
	for _, blk := range blocks {
		eff, err := n.ProcessBlock(blk, now)
		if err != nil || len(eff.Confirmed) != 1 {
			b.Fatal(err, len(eff.Confirmed))
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "transfers/s")
}
