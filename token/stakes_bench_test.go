package token

import (
	"fmt"
	"testing"
)

// BenchmarkStakes measures the stake table the relay lottery's oracle
// takes once per lottery epoch: n accounts, each with a chain of eight
// confirmed stake and unstake blocks, the table taken at an epoch in the
// middle of the chains (so each walk goes back past newer blocks and
// counts unbonding ones).
func BenchmarkStakes(b *testing.B) {
	for _, n := range []int{100, 1000} {
		b.Run(fmt.Sprintf("accounts=%d", n), func(b *testing.B) {
			bal := make([]uint64, n)
			for i := range bal {
				bal[i] = 1_000_000
			}
			l := newLedger(b, bal...)
			for i := range n {
				w := NewWallet(l, key(i))
				for e := uint64(1); e <= 8; e++ {
					var blk Block
					var err error
					if e%3 == 0 {
						blk, err = w.Unstake(100, e*10)
					} else {
						blk, err = w.Stake(1000, e*10)
					}
					applyConfirm(b, l, blk, err)
				}
			}
			b.ResetTimer()
			for range b.N {
				if t := l.Stakes(45, 0); t.Len() != n {
					b.Fatal(t.Len())
				}
			}
		})
	}
}

// BenchmarkStakesGenesis is BenchmarkStakes for accounts that hold only
// their genesis stake (no block of their own), as on a young network.
func BenchmarkStakesGenesis(b *testing.B) {
	const n = 10_000
	g := Genesis{Network: "bench", UnbondingEpochs: 3}
	for i := range n {
		g.Accounts = append(g.Accounts, Allocation{Account: hexAcct(i), Balance: 1000, Staked: 100})
	}
	l, err := NewLedger(g)
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for range b.N {
		if t := l.Stakes(45, 0); t.Total != 100*n {
			b.Fatal(t.Total)
		}
	}
}
