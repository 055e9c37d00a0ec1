package token

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestNetDelegatedDoubleSpend: twenty nodes whose accounts delegate to
// four principal representatives (nodes 0–3, five accounts' weight each).
// Only the representatives vote. A double spender splits the network and
// gives each side one of two conflicting sends: the side holding more than
// half of the weight confirms its send whatever its number of nodes, a
// side with half or less confirms nothing, and after the heal every node
// settles on the same send.
func TestNetDelegatedDoubleSpend(t *testing.T) {
	const nodes, reps = 20, 4
	tests := []struct {
		name  string
		sideA []int // the other nodes are side B
		wantA bool  // S1 (side A's) confirmed during the partition
		wantB bool
	}{
		// Three representatives (75 % of the weight) with three nodes
		// in all against seventeen nodes holding one.
		{"weight, not nodes, decides", []int{0, 1, 2}, true, false},
		// Two representatives each side: an even split of the weight,
		// with twelve nodes on side A.
		{"even weight: neither confirms", []int{0, 1, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13}, false, false},
		{"one representative: B confirms", []int{0, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13}, false, true},
	}
	for ti, tt := range tests {
		for seed := uint64(1); seed <= 2; seed++ {
			t.Run(fmt.Sprintf("%s/seed%d", tt.name, seed), func(t *testing.T) {
				spender := nodes
				s := newDelegatedSimNet(t, nodes, reps, seed*100+uint64(ti), Allocation{Account: hexAcct(spender), Balance: 10, Representative: hexAcct(0)})
				for i := range s.nodes {
					b, err := s.nodes[i].wallet.Send(acct((i+1)%nodes), 1, 0)
					require.NoError(t, err)
					s.publish(i, b)
				}
				s.run(3 * time.Second)

				var a, b []int
				inA := map[int]bool{}
				for _, i := range tt.sideA {
					inA[i] = true
				}
				for i := range nodes {
					if inA[i] {
						a = append(a, i)
					} else {
						s.side[i] = 1
						b = append(b, i)
					}
				}
				s.split = true
				spend := NewWallet(s.nodes[0].node.Ledger(), key(spender))
				s1, err := spend.Send(acct(a[len(a)-1]), 10, 0)
				require.NoError(t, err)
				s2, err := spend.Send(acct(b[len(b)-1]), 10, 0)
				require.NoError(t, err)
				h1, h2 := s1.Hash(), s2.Hash()
				s.inject(s1, a)
				s.inject(s2, b)
				s.run(4 * time.Second)
				assert.Equal(t, tt.wantA, s.confirmedAnywhere(h1) > 0, "S1 confirmed during the partition")
				assert.Equal(t, tt.wantB, s.confirmedAnywhere(h2) > 0, "S2 confirmed during the partition")
				if tt.wantA {
					assert.Equal(t, len(a), s.confirmedAnywhere(h1), "all of side A confirms S1")
				}
				if tt.wantB {
					assert.Equal(t, len(b), s.confirmedAnywhere(h2), "all of side B confirms S2")
				}

				s.split = false
				s.run(8 * time.Second)
				c1, c2 := s.confirmedAnywhere(h1), s.confirmedAnywhere(h2)
				require.False(t, c1 > 0 && c2 > 0, "both conflicting sends confirmed (%d and %d nodes)", c1, c2)
				assert.Equal(t, nodes, c1+c2, "after healing every node confirms one of them")
				for i, sn := range s.nodes {
					l := sn.node.Ledger()
					conserved(t, l)
					assert.Zero(t, l.Forks(), "node %d keeps an unsettled fork", i)
					if i >= reps {
						assert.Zero(t, l.Weight(acct(i)), "node %d delegated its weight", i)
					}
				}
				assert.Zero(t, s.forged)
				assert.Equal(t, reps, s.voters(), "only the representatives vote")
				s.checkReplay(t)
			})
		}
	}
}
