package ledgerstore

import (
	"context"
	"fmt"
	"testing"

	"github.com/fog-compute/fog/store"
	"github.com/fog-compute/fog/token"
)

// BenchmarkTransfers measures transfers (a send and its receive) taken by
// one representative's node — validated, elected by its own votes,
// confirmed — and persisted with synced writes on disk, Append after every
// transfer or once per batch of transfers (as a shell that drains its
// inbox before syncing does).
func BenchmarkTransfers(b *testing.B) {
	for _, batch := range []int{1, 16, 64} {
		b.Run(fmt.Sprintf("batch=%d", batch), func(b *testing.B) {
			ctx := context.Background()
			g := delegateAll(genesis(2))
			scratch, err := token.NewLedger(g)
			if err != nil {
				b.Fatal(err)
			}
			w0, w1 := token.NewWallet(scratch, key(0)), token.NewWallet(scratch, key(1))
			var blocks []token.Block
			for range b.N {
				s, err := w0.Send(acct(1), 1, 1)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := scratch.Apply(s); err != nil {
					b.Fatal(err)
				}
				if err := scratch.Confirm(s.Hash()); err != nil {
					b.Fatal(err)
				}
				r, err := w1.Receive(s.Hash(), 1)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := scratch.Apply(r); err != nil {
					b.Fatal(err)
				}
				if err := scratch.Confirm(r.Hash()); err != nil {
					b.Fatal(err)
				}
				blocks = append(blocks, s, r)
			}
			db := openDB(b, b.TempDir())
			defer db.Close()
			st, l, err := Open(ctx, db.Datastore(store.PrefixToken), g)
			if err != nil {
				b.Fatal(err)
			}
			x := newNode(b, st, l)
			var recs []token.Record
			b.ResetTimer()
			for i, blk := range blocks {
				eff, err := x.n.ProcessBlock(blk, x.now)
				if err != nil || len(eff.Confirmed) != 1 {
					b.Fatal(err)
				}
				recs = append(recs, eff.Records...)
				if (i+1)%(2*batch) == 0 || i == len(blocks)-1 {
					if err := st.Append(ctx, recs); err != nil {
						b.Fatal(err)
					}
					recs = recs[:0]
				}
			}
			b.StopTimer()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "transfers/s")
		})
	}
}
