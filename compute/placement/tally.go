package placement

// Tally is the quorum state machine of one task: it is told of attempts
// launched and of how each ended, and says how many more attempts to
// launch and whether the outcome is decided. It does no I/O and reads no
// clock, and is not safe for concurrent use; the task's goroutine in
// package compute drives it.
//
// The rules: a task wants Replicas answers; when one result hash has
// Quorum votes it is decided. An attempt that fails (not a refusal, which
// is no attempt) is replaced; when the answers disagree so that no hash
// can reach the quorum with the attempts in flight, more attempts are
// launched. Attempts are bounded by a budget (in compute, Replicas plus
// Config.MaxRetries). Under CrashFail a lost attempt is never replaced:
// from then on nothing more is launched.
type Tally struct {
	replicas, quorum, budget int

	launched int // attempts launched, refusals excluded
	inflight int
	answered int
	votes    []vote // one per distinct hash, in order of first arrival
	noMore   bool   // a lost attempt under CrashFail

	decided bool
	winner  [32]byte
}

type vote struct {
	hash  [32]byte
	count int
}

// NewTally returns the tally of a task that wants replicas answers, of
// which quorum must agree, within budget attempts.
func NewTally(replicas, quorum, budget int) *Tally {
	return &Tally{replicas: replicas, quorum: quorum, budget: max(budget, replicas)}
}

// Launch records an attempt sent.
func (t *Tally) Launch() { t.launched++; t.inflight++ }

// Refused records that the provider of an attempt refused it: it does not
// count against the budget.
func (t *Tally) Refused() { t.launched--; t.inflight-- }

// Answer records an attempt's answer.
func (t *Tally) Answer(h [32]byte) {
	t.inflight--
	t.answered++
	for i := range t.votes {
		if t.votes[i].hash == h {
			t.votes[i].count++
			t.check(i)
			return
		}
	}
	t.votes = append(t.votes, vote{hash: h, count: 1})
	t.check(len(t.votes) - 1)
}

func (t *Tally) check(i int) {
	if !t.decided && t.votes[i].count >= t.quorum {
		t.decided, t.winner = true, t.votes[i].hash
	}
}

// Fail records an attempt that ended without an answer. lost says the
// provider may have run it; with noReplace (CrashFail) a lost attempt
// stops all further attempts.
func (t *Tally) Fail(lost, noReplace bool) {
	t.inflight--
	if lost && noReplace {
		t.noMore = true
	}
}

// Stopped records an attempt stopped by the task (cancelled after the
// outcome was decided, or at the deadline).
func (t *Tally) Stopped() { t.inflight-- }

// Best returns the most voted hash's votes (the first to arrive among
// equals).
func (t *Tally) Best() (h [32]byte, votes int) {
	for _, v := range t.votes {
		if v.count > votes {
			h, votes = v.hash, v.count
		}
	}
	return h, votes
}

// Need returns how many attempts to launch now.
func (t *Tally) Need() int {
	if t.decided || t.noMore {
		return 0
	}
	n := t.replicas - t.answered - t.inflight
	if t.answered > 0 {
		_, best := t.Best()
		n = max(n, t.quorum-best-t.inflight)
	}
	return max(0, min(n, t.budget-t.launched))
}

// Stuck reports that the outcome can no longer be decided: nothing in
// flight and nothing more to launch.
func (t *Tally) Stuck() bool { return !t.decided && t.inflight == 0 && t.Need() == 0 }

// Decided reports whether a hash has its quorum of votes, and which.
func (t *Tally) Decided() (winner [32]byte, ok bool) { return t.winner, t.decided }

// InFlight returns the attempts launched that have not ended.
func (t *Tally) InFlight() int { return t.inflight }

// Launched returns the attempts launched, refusals excluded.
func (t *Tally) Launched() int { return t.launched }

// Answered returns the attempts that answered.
func (t *Tally) Answered() int { return t.answered }

// Groups returns the number of distinct result hashes answered.
func (t *Tally) Groups() int { return len(t.votes) }

// NoMore reports that a lost attempt under CrashFail stopped all further
// attempts.
func (t *Tally) NoMore() bool { return t.noMore }
