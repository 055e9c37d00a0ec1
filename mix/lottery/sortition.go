package lottery

import (
	"crypto/sha256"
	"encoding/binary"
	"math"
	"math/big"
)

const (
	// sortitionPrec is the working precision, in bits, of the binomial CDF
	// walk. Each operation rounds with relative error at most 2^-256; a walk
	// of n steps does about 130 + 4n of them (n is about the number of seats,
	// at most ~10^5 under MaxTargetRelays), so the computed CDF is within
	// 2^-230 of the exact binomial CDF, and the probability that a ticket
	// lands on the other side of a boundary than exact arithmetic would put
	// it is below that.
	sortitionPrec = 256

	// fractionBytes is how much of beta becomes the ticket fraction
	// x = beta[:32] / 2^256: as many bits as the working precision, so x is
	// exact and finer than any rounding in the walk.
	fractionBytes = sortitionPrec / 8

	// maxExactMean bounds w*p, the expected number of seats, for which Seats
	// walks the distribution. Below it (1,048,576) (1-p)^w cannot underflow
	// big.Float's exponent range and the walk takes about w*p steps; above
	// it, far outside the lottery's range since w*p <= TargetRelays, Seats
	// returns the rounded mean.
	maxExactMean = 1 << 20
)

// Probability returns the per-unit-of-weight success probability p that
// makes the expected number of seats per epoch equal to target when the
// candidates' weights add up to total: min(1, target/total), and 0 when total
// is 0. It is one IEEE-754 division, so every platform gets the same bits.
func Probability(target int, total uint64) float64 {
	if total == 0 || target <= 0 {
		return 0
	}
	p := float64(target) / float64(total)
	return min(p, 1)
}

// Seats is binomial sortition as in Algorand (Gilad et al., SOSP 2017,
// Algorithm 1): it returns the number of successes j of w Bernoulli trials
// with probability p, drawn with the VRF output beta as the randomness. The
// first 32 bytes of beta, read big-endian, give the fraction
// x = beta[:32]/2^256 in [0, 1), and j is the smallest integer with
// x < B(0) + ... + B(j), where B(k) = C(w,k) p^k (1-p)^(w-k), found by walking
// the binomial CDF from k = 0 (B(k+1) = B(k) * (w-k)/(k+1) * p/(1-p)).
//
// Because the draw follows Binomial(w, p) exactly, an identity that splits
// its weight w into identities of weights w1 + ... + wn = w wins
// Binomial(w1,p) + ... + Binomial(wn,p) = Binomial(w, p) seats: splitting
// gains nothing.
//
// The result is the same on every platform: the walk uses math/big.Float at
// 256 bits with round-to-nearest-even, whose operations are exactly rounded
// in software (no FMA contraction, no platform libm), and p enters exactly
// (a float64 is a 53-bit binary fraction). Seats returns 0 for w = 0, p <= 0
// or p NaN, and w for p >= 1. When w*p exceeds 2^20 it returns the mean
// w*p rounded to the nearest integer (see maxExactMean). A beta shorter than
// 32 bytes is read as the fraction beta/2^(8*len(beta)).
func Seats(beta []byte, w uint64, p float64) uint64 {
	switch {
	case w == 0 || math.IsNaN(p) || p <= 0:
		return 0
	case p >= 1:
		return w
	}
	pf := newFloat().SetFloat64(p)
	wf := newFloat().SetUint64(w)
	mean := newFloat().Mul(wf, pf)
	if mean.Cmp(newFloat().SetUint64(maxExactMean)) > 0 {
		mean.Add(mean, newFloat().SetFloat64(0.5))
		r, _ := mean.Uint64() // truncates toward zero: floor(w*p + 1/2)
		return min(r, w)
	}

	x := ticketFraction(beta)
	q := newFloat().Sub(newFloat().SetInt64(1), pf)
	pmf := powUint(q, w) // B(0) = (1-p)^w
	cdf := newFloat().Set(pmf)
	ratio := newFloat().Quo(pf, q)
	tiny := newFloat()
	step := newFloat()
	var j uint64
	for x.Cmp(cdf) >= 0 {
		if j == w {
			return w
		}
		// B(j+1) = B(j) * p/(1-p) * (w-j) / (j+1).
		pmf.Mul(pmf, ratio)
		pmf.Mul(pmf, step.SetUint64(w-j))
		pmf.Quo(pmf, step.SetUint64(j+1))
		j++
		cdf.Add(cdf, pmf)
		// Past the mean the terms only shrink; once one no longer moves the
		// CDF at working precision, the walk can only end at w, and x is in a
		// tail of probability below 2^-250: stop here, deterministically.
		if step.SetUint64(j).Cmp(mean) > 0 {
			tiny.SetMantExp(cdf, -(sortitionPrec + 2))
			if pmf.Cmp(tiny) < 0 {
				return j
			}
		}
	}
	return j
}

// newFloat returns a zero big.Float at the sortition's precision and
// rounding mode.
func newFloat() *big.Float {
	return new(big.Float).SetPrec(sortitionPrec).SetMode(big.ToNearestEven)
}

// ticketFraction returns x = beta[:n] / 2^(8n), n = min(len(beta), 32),
// exactly.
func ticketFraction(beta []byte) *big.Float {
	n := min(len(beta), fractionBytes)
	num := new(big.Int).SetBytes(beta[:n])
	x := newFloat().SetInt(num)
	return x.SetMantExp(x, -8*n)
}

// powUint returns b^n by square-and-multiply at the sortition's precision.
func powUint(b *big.Float, n uint64) *big.Float {
	result := newFloat().SetInt64(1)
	base := newFloat().Set(b)
	for n > 0 {
		if n&1 == 1 {
			result.Mul(result, base)
		}
		n >>= 1
		if n > 0 {
			base.Mul(base, base)
		}
	}
	return result
}

// layerDomain separates the layer draw from the seat draw: seats read beta
// directly, the layer reads SHA-256(layerDomain || beta), so the two are
// independent.
const layerDomain = "fog/lottery/layer/v1"

// Layer returns the mix layer in [0, layers) that a winner with VRF output
// beta serves: the first 8 bytes of SHA-256("fog/lottery/layer/v1" || beta),
// read big-endian, modulo layers. The modulo bias is below layers/2^64
// (under 2^-56 for 255 layers). It returns 0 when layers < 1.
func Layer(beta []byte, layers int) int {
	if layers < 1 {
		return 0
	}
	h := sha256.New()
	h.Write([]byte(layerDomain))
	h.Write(beta)
	var sum [sha256.Size]byte
	h.Sum(sum[:0])
	return int(binary.BigEndian.Uint64(sum[:8]) % uint64(layers))
}
