package lottery

import (
	"crypto/sha512"
	"encoding/binary"
	"math"
	"math/big"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gonum.org/v1/gonum/stat/distuv"
)

// testBeta returns a reproducible 64-byte stand-in for a VRF output.
func testBeta(label string, i uint64) []byte {
	h := sha512.New()
	h.Write([]byte(label))
	h.Write(binary.BigEndian.AppendUint64(nil, i))
	return h.Sum(nil)
}

// betaAt returns a 64-byte beta whose ticket fraction is exactly num/2^bits,
// for num < 2^bits, bits <= 256.
func betaAt(num *big.Int, bits uint) []byte {
	x := new(big.Int).Lsh(num, 256-bits)
	b := make([]byte, 64)
	x.FillBytes(b[:32])
	return b
}

func TestSeatsBoundariesAreHalfOpen(t *testing.T) {
	// p = 1/4, w = 2: B(0) = 9/16, B(0)+B(1) = 15/16. With 4-bit fractions
	// the boundaries are exact: x < 9/16 -> 0, 9/16 <= x < 15/16 -> 1, else 2.
	want := map[int64]uint64{0: 0, 8: 0, 9: 1, 14: 1, 15: 2}
	for num, seats := range want {
		assert.Equal(t, seats, Seats(betaAt(big.NewInt(num), 4), 2, 0.25), "x = %d/16", num)
	}
	// Just below a boundary, by 2^-256.
	below := new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(9), 252), big.NewInt(1))
	assert.Equal(t, uint64(0), Seats(betaAt(below, 256), 2, 0.25))
}

func TestSeatsEdgeCases(t *testing.T) {
	beta := testBeta("edge", 1)
	assert.Equal(t, uint64(0), Seats(beta, 0, 0.5), "no weight")
	assert.Equal(t, uint64(0), Seats(beta, 100, 0), "p = 0")
	assert.Equal(t, uint64(0), Seats(beta, 100, -1), "p < 0")
	assert.Equal(t, uint64(0), Seats(beta, 100, math.NaN()), "p NaN")
	assert.Equal(t, uint64(100), Seats(beta, 100, 1), "p = 1")
	assert.Equal(t, uint64(100), Seats(beta, 100, math.Inf(1)), "p = +Inf")
	assert.Equal(t, uint64(0), Seats(nil, 5, 0.5), "empty beta is x = 0: the lowest outcome")
	top := make([]byte, 64)
	for i := range top {
		top[i] = 0xff
	}
	assert.Equal(t, uint64(7), Seats(top, 7, 0.5), "x just below 1 is the highest outcome")
	// Above maxExactMean the result is the rounded mean, deterministically.
	assert.Equal(t, uint64(1)<<39, Seats(beta, 1<<40, 0.5))
}

// exactSeats is the reference: the binomial CDF in exact rational
// arithmetic, for small w.
func exactSeats(beta []byte, w uint64, p float64) uint64 {
	x := new(big.Rat).SetFrac(new(big.Int).SetBytes(beta[:32]), new(big.Int).Lsh(big.NewInt(1), 256))
	pr := new(big.Rat).SetFloat64(p)
	qr := new(big.Rat).Sub(big.NewRat(1, 1), pr)
	cdf := new(big.Rat)
	for k := uint64(0); k <= w; k++ {
		term := new(big.Rat).SetInt(new(big.Int).Binomial(int64(w), int64(k)))
		term.Mul(term, ratPow(pr, k))
		term.Mul(term, ratPow(qr, w-k))
		cdf.Add(cdf, term)
		if x.Cmp(cdf) < 0 {
			return k
		}
	}
	return w
}

func ratPow(r *big.Rat, n uint64) *big.Rat {
	num := new(big.Int).Exp(r.Num(), new(big.Int).SetUint64(n), nil)
	den := new(big.Int).Exp(r.Denom(), new(big.Int).SetUint64(n), nil)
	return new(big.Rat).SetFrac(num, den)
}

func TestSeatsMatchesExactArithmetic(t *testing.T) {
	cases := []struct {
		w uint64
		p float64
	}{
		{1, 0.3}, {2, 0.25}, {5, 0.1}, {12, 0.5}, {20, 0.05}, {30, 0.9}, {40, 1.0 / 3},
	}
	n := 300
	if testing.Short() {
		n = 60
	}
	for _, c := range cases {
		for i := range n {
			beta := testBeta("exact", uint64(i)+c.w*1000)
			require.Equal(t, exactSeats(beta, c.w, c.p), Seats(beta, c.w, c.p), "w=%d p=%v i=%d", c.w, c.p, i)
		}
	}
}

// TestSeatsMatchesBinomialQuantile checks large weights, where exact
// rationals are out of reach, against gonum's binomial CDF: the seats are the
// smallest j with x < CDF(j), away from float64 rounding at the boundaries.
func TestSeatsMatchesBinomialQuantile(t *testing.T) {
	cases := []struct {
		w uint64
		p float64
	}{
		{1000, 5e-4}, {1_000_000, 3e-5}, {1_000_000_000, 1e-7}, {5000, 0.2},
	}
	for _, c := range cases {
		bin := distuv.Binomial{N: float64(c.w), P: c.p}
		for i := range 40 {
			beta := testBeta("quantile", uint64(i)+c.w)
			x, _ := ticketFraction(beta).Float64()
			got := Seats(beta, c.w, c.p)
			if got > 0 {
				require.GreaterOrEqual(t, x, bin.CDF(float64(got-1))-1e-9, "w=%d p=%v: x below CDF(j-1)", c.w, c.p)
			}
			require.Less(t, x, bin.CDF(float64(got))+1e-9, "w=%d p=%v: x not below CDF(j)", c.w, c.p)
		}
	}
}

// TestSeatsGolden pins outputs so that every platform and future change is
// checked against the same values (the exact-arithmetic test above shows
// they are right).
func TestSeatsGolden(t *testing.T) {
	golden := []struct {
		i    uint64
		w    uint64
		p    float64
		want uint64
	}{
		{0, 1, 0.5, 1},
		{1, 1000, 0.001, 2},
		{2, 1000, 0.001, 1},
		{3, 1_000_000, 3e-5, 25},
		{4, 1_000_000, 3e-5, 29},
		{5, 54500, 30.0 / 54500, 27},
		{6, 1 << 32, 1e-8, 44},
		{7, 100, 0.999, 100},
	}
	for _, g := range golden {
		assert.Equal(t, g.want, Seats(testBeta("golden", g.i), g.w, g.p), "vector %d", g.i)
	}
}

func TestProbability(t *testing.T) {
	assert.Equal(t, 0.0, Probability(30, 0))
	assert.Equal(t, 0.0, Probability(0, 100))
	assert.Equal(t, 0.3, Probability(30, 100))
	assert.Equal(t, 1.0, Probability(30, 20))
}

func TestLayerDeterministicAndInRange(t *testing.T) {
	for i := range 100 {
		beta := testBeta("layer", uint64(i))
		l := Layer(beta, 3)
		assert.GreaterOrEqual(t, l, 0)
		assert.Less(t, l, 3)
		assert.Equal(t, l, Layer(beta, 3))
	}
	assert.Equal(t, 0, Layer(testBeta("layer", 1), 1))
	assert.Equal(t, 0, Layer(testBeta("layer", 1), 0))
}

// TestLayerIndependentOfSeats draws layers only for winning tickets, whose
// ticket fraction is high: if the layer reused the seat bits, winners would
// crowd into some layers. The layer counts must still be uniform.
func TestLayerIndependentOfSeats(t *testing.T) {
	const layers = 3
	counts := make([]float64, layers)
	n := 0
	for i := uint64(0); n < 6000; i++ {
		beta := testBeta("winners", i)
		beta[0] |= 0xf0 // only the top 1/16 of fractions: all winners for p small
		if Seats(beta, 1, 0.05) == 0 {
			continue
		}
		counts[Layer(beta, layers)]++
		n++
	}
	chi2 := 0.0
	exp := float64(n) / layers
	for _, c := range counts {
		chi2 += (c - exp) * (c - exp) / exp
	}
	pv := distuv.ChiSquared{K: layers - 1}.Survival(chi2)
	assert.Greater(t, pv, 0.001, "layer counts %v", counts)
}
