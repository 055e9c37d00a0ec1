package lottery

import (
	"crypto/ed25519"
	"crypto/sha512"
	"encoding/binary"
	"flag"
	"math"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gonum.org/v1/gonum/stat"
	"gonum.org/v1/gonum/stat/distuv"

	"github.com/fog-compute/fog/mix/vrf"
)

var fairnessFull = flag.Bool("fairness.full", false,
	"run TestFairnessFull: 10,000 epochs x 100 candidates with real VRF proofs (a few minutes)")

// sortitionFunc is Seats or a deliberately wrong variant of it.
type sortitionFunc func(beta []byte, w uint64, p float64) uint64

// oneSeatSortition is the classic mistake binomial sortition avoids: a
// candidate wins at most one seat, with probability 1-(1-p)^w. It
// under-rewards large stakes, so splitting stake pays.
func oneSeatSortition(beta []byte, w uint64, p float64) uint64 {
	if Seats(beta, w, p) > 0 {
		return 1
	}
	return 0
}

// fairnessSetup describes a computation-only lottery run: candidates with
// the given stakes draw every epoch, the seed chain advances through the
// winners' reveals, and in a parallel world candidate SybilOf's stake is
// split evenly over Sybils identities that draw with the same seed and p.
type fairnessSetup struct {
	Epochs  int
	Stakes  []uint64
	Target  int
	SybilOf int
	Sybils  int
	Sort    sortitionFunc
	RealVRF bool // tickets from vrf.Prove with real keys; else SHA-512 stand-ins
}

type fairnessResult struct {
	Seats      []uint64 // total seats per candidate
	TotalSeats uint64
	Chi2       float64
	DF         int
	PValue     float64
	// Seats per epoch of the undivided candidate and of its Sybils
	// together: means, standard errors of the means, and the difference in
	// units of its standard error.
	Undivided, Sybil     float64
	UndividedSE, SybilSE float64
	Expected             float64 // w * p
	GainSE               float64
	Duration             time.Duration
}

// runFairness runs the setup on all CPUs.
func runFairness(t testing.TB, f fairnessSetup) fairnessResult {
	start := time.Now()
	cfg := testConfig()
	cfg.TargetRelays = f.Target
	n := len(f.Stakes)
	var total uint64
	for _, s := range f.Stakes {
		total += s
	}
	require.Zero(t, f.Stakes[f.SybilOf]%uint64(f.Sybils), "stake must split evenly")
	sybilStake := f.Stakes[f.SybilOf] / uint64(f.Sybils)
	p := Probability(f.Target, total)

	ids := n + f.Sybils // 0..n-1 candidates, n.. Sybils
	var keys []ed25519.PrivateKey
	if f.RealVRF {
		for i := range ids {
			keys = append(keys, testKey(10_000+i))
		}
	}
	weight := func(id int) uint64 {
		if id < n {
			return f.Stakes[id]
		}
		return sybilStake
	}
	hashBeta := func(label string, id int, e uint64, seed Seed) []byte {
		h := sha512.New()
		h.Write([]byte(label))
		h.Write(binary.BigEndian.AppendUint64(nil, uint64(id)))
		h.Write(binary.BigEndian.AppendUint64(nil, e))
		h.Write(seed[:])
		return h.Sum(nil)
	}
	// draw returns the seats of id in epoch e and, if it won, its reveal
	// output.
	draw := func(id int, e uint64, seed Seed) (uint64, []byte, error) {
		var beta []byte
		if f.RealVRF {
			pi, err := vrf.Prove(keys[id], ticketAlpha(cfg, e, seed))
			if err != nil {
				return 0, nil, err
			}
			if beta, err = vrf.ProofToHash(pi); err != nil {
				return 0, nil, err
			}
		} else {
			beta = hashBeta("ticket", id, e, seed)
		}
		seats := f.Sort(beta, weight(id), p)
		if seats == 0 || id >= n {
			return seats, nil, nil
		}
		if !f.RealVRF {
			return seats, hashBeta("reveal", id, e, seed), nil
		}
		r, err := NewReveal(keys[id], e, seed, cfg)
		if err != nil {
			return 0, nil, err
		}
		out, err := vrf.ProofToHash(r.Proof)
		return seats, out, err
	}

	res := fairnessResult{Seats: make([]uint64, n), DF: n - 1}
	undivided := make([]float64, f.Epochs)
	sybil := make([]float64, f.Epochs)
	seats := make([]uint64, ids)
	reveals := make([][]byte, ids)
	errs := make([]error, ids)
	workers := runtime.GOMAXPROCS(0)
	seed := GenesisSeed(cfg)
	for e := range uint64(f.Epochs) {
		var wg sync.WaitGroup
		for w := range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for id := w; id < ids; id += workers {
					seats[id], reveals[id], errs[id] = draw(id, e, seed)
				}
			}()
		}
		wg.Wait()
		var outs [][]byte
		for id := range ids {
			require.NoError(t, errs[id])
			if id < n {
				res.Seats[id] += seats[id]
				res.TotalSeats += seats[id]
				if reveals[id] != nil {
					outs = append(outs, reveals[id])
				}
			} else {
				sybil[e] += float64(seats[id])
			}
		}
		undivided[e] = float64(seats[f.SybilOf])
		seed = NextSeed(cfg, e, seed, outs)
	}

	for i, s := range f.Stakes {
		exp := float64(res.TotalSeats) * float64(s) / float64(total)
		d := float64(res.Seats[i]) - exp
		res.Chi2 += d * d / exp
	}
	res.PValue = distuv.ChiSquared{K: float64(res.DF)}.Survival(res.Chi2)
	res.Undivided, res.UndividedSE = stat.MeanStdDev(undivided, nil)
	res.Sybil, res.SybilSE = stat.MeanStdDev(sybil, nil)
	res.UndividedSE /= math.Sqrt(float64(f.Epochs))
	res.SybilSE /= math.Sqrt(float64(f.Epochs))
	res.Expected = float64(f.Stakes[f.SybilOf]) * p
	res.GainSE = (res.Sybil - res.Undivided) / math.Hypot(res.UndividedSE, res.SybilSE)
	res.Duration = time.Since(start)
	return res
}

// unequalStakes are the figure's 100 candidates: stakes 50, 60, ..., 1040
// (a 20.8x spread). Candidate 95 has 1000, which splits into 50 x 20.
func unequalStakes() []uint64 {
	s := make([]uint64, 100)
	for i := range s {
		s[i] = 50 + 10*uint64(i)
	}
	return s
}

// whaleStakes give one candidate about half the stake (5050 = 50 x 101) and 99
// others 50 each: a Sybil split of the whale has a large, measurable effect
// when sortition is wrong.
func whaleStakes() []uint64 {
	s := make([]uint64, 100)
	for i := range s {
		s[i] = 50
	}
	s[0] = 5050
	return s
}

func logFairness(t testing.TB, name string, f fairnessSetup, r fairnessResult) {
	t.Logf("%s: %d epochs x %d candidates (R=%d, real VRF %v) in %s", name, f.Epochs, len(f.Stakes), f.Target, f.RealVRF, r.Duration.Round(time.Millisecond))
	t.Logf("  seats: %d (%.2f per epoch, target %d); chi-square %.2f, df %d, p-value %.4g",
		r.TotalSeats, float64(r.TotalSeats)/float64(f.Epochs), f.Target, r.Chi2, r.DF, r.PValue)
	t.Logf("  Sybil split of candidate %d (stake %d into %d): undivided %.4f +- %.4f, Sybils %.4f +- %.4f seats/epoch, expected w*p %.4f; gain %.2f SE",
		f.SybilOf, f.Stakes[f.SybilOf], f.Sybils, r.Undivided, r.UndividedSE, r.Sybil, r.SybilSE, r.Expected, r.GainSE)
}

func quickEpochs() int {
	if testing.Short() {
		return 200
	}
	return 500
}

// quickTarget is R for the quick tests: more seats per epoch than the
// default 30 give the 500-epoch chi-square test the power to see a bias.
const quickTarget = 100

// TestFairness: seat shares follow stake shares (chi-square goodness of fit,
// p > 0.001) over 500 epochs of 100 candidates with 20x unequal stake.
func TestFairness(t *testing.T) {
	f := fairnessSetup{Epochs: quickEpochs(), Stakes: unequalStakes(), Target: quickTarget, SybilOf: 95, Sybils: 50, Sort: Seats}
	r := runFairness(t, f)
	logFairness(t, "binomial sortition", f, r)
	assert.Greater(t, r.PValue, 0.001)
	assert.InDelta(t, float64(f.Target), float64(r.TotalSeats)/float64(f.Epochs), 3, "about R seats per epoch")
	assert.Less(t, math.Abs(r.GainSE), 3.0, "splitting stake changes nothing")
}

// TestFairnessCatchesBias runs the same test on one-seat-per-identity
// sortition, which under-rewards large stakes: the chi-square test must
// reject it.
func TestFairnessCatchesBias(t *testing.T) {
	f := fairnessSetup{Epochs: quickEpochs(), Stakes: unequalStakes(), Target: quickTarget, SybilOf: 95, Sybils: 50, Sort: oneSeatSortition}
	r := runFairness(t, f)
	logFairness(t, "one-seat sortition (biased)", f, r)
	assert.Less(t, r.PValue, 0.001, "biased sortition must fail the chi-square test")
}

// TestSybilSplit: a candidate holding half the stake gains nothing by
// splitting it into 50 identities under binomial sortition, and gains a lot
// under one-seat sortition (which shows the test has the power to see it).
func TestSybilSplit(t *testing.T) {
	f := fairnessSetup{Epochs: quickEpochs(), Stakes: whaleStakes(), Target: 30, SybilOf: 0, Sybils: 50, Sort: Seats}
	r := runFairness(t, f)
	logFairness(t, "whale, binomial sortition", f, r)
	assert.Less(t, math.Abs(r.GainSE), 3.0)
	assert.InDelta(t, r.Expected, r.Undivided, 3*r.UndividedSE)
	assert.InDelta(t, r.Expected, r.Sybil, 3*r.SybilSE)

	f.Sort = oneSeatSortition
	r = runFairness(t, f)
	logFairness(t, "whale, one-seat sortition (biased)", f, r)
	assert.Greater(t, r.GainSE, 10.0, "the Sybils must gain under one-seat sortition")
}

// TestFairnessFull produces the figure: 10,000 epochs x 100 candidates of
// unequal stake, tickets and reveals from real VRF proofs, the seed chain
// as the network runs it. Run with
//
//	go test -run TestFairnessFull -timeout 30m -v ./mix/lottery/ -fairness.full
func TestFairnessFull(t *testing.T) {
	if !*fairnessFull {
		t.Skip("figure run: pass -fairness.full")
	}
	f := fairnessSetup{Epochs: 10_000, Stakes: unequalStakes(), Target: 30, SybilOf: 95, Sybils: 50, Sort: Seats, RealVRF: true}
	r := runFairness(t, f)
	logFairness(t, "FIGURE fairness", f, r)
	assert.Greater(t, r.PValue, 0.01, "seat shares match stake shares")
	assert.Less(t, math.Abs(r.GainSE), 2.0, "Sybil split within 2 standard errors")
}
