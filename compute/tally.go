package compute

// tally is the quorum state machine of one task: it is told of attempts
// launched and of how each ended, and says how many more attempts to
// launch and whether the outcome is decided. It does no I/O and reads no
// clock; the task's goroutine drives it.
//
// The rules: a task wants Replicas answers; when one result hash has
// Quorum votes it is decided. An attempt that fails (not a refusal, which
// is no attempt) is replaced; when the answers disagree so that no hash
// can reach the quorum with the attempts in flight, more attempts are
// launched. Attempts are bounded by a budget (Replicas plus
// Config.MaxRetries). Under CrashFail a lost attempt is never replaced:
// from then on nothing more is launched.
type tally struct {
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

func newTally(replicas, quorum, budget int) *tally {
	return &tally{replicas: replicas, quorum: quorum, budget: max(budget, replicas)}
}

// launch records an attempt sent.
func (t *tally) launch() { t.launched++; t.inflight++ }

// refused records that the provider of an attempt refused it: it does not
// count against the budget.
func (t *tally) refused() { t.launched--; t.inflight-- }

// answer records an attempt's answer.
func (t *tally) answer(h [32]byte) {
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

func (t *tally) check(i int) {
	if !t.decided && t.votes[i].count >= t.quorum {
		t.decided, t.winner = true, t.votes[i].hash
	}
}

// fail records an attempt that ended without an answer. lost says the
// provider may have run it; with noReplace (CrashFail) a lost attempt
// stops all further attempts.
func (t *tally) fail(lost, noReplace bool) {
	t.inflight--
	if lost && noReplace {
		t.noMore = true
	}
}

// stopped records an attempt stopped by the task (cancelled after the
// outcome was decided, or at the deadline).
func (t *tally) stopped() { t.inflight-- }

// best returns the most voted hash's votes (the first to arrive among
// equals).
func (t *tally) best() (h [32]byte, votes int) {
	for _, v := range t.votes {
		if v.count > votes {
			h, votes = v.hash, v.count
		}
	}
	return h, votes
}

// need returns how many attempts to launch now.
func (t *tally) need() int {
	if t.decided || t.noMore {
		return 0
	}
	n := t.replicas - t.answered - t.inflight
	if t.answered > 0 {
		_, best := t.best()
		n = max(n, t.quorum-best-t.inflight)
	}
	return max(0, min(n, t.budget-t.launched))
}

// stuck reports that the outcome can no longer be decided: nothing in
// flight and nothing more to launch.
func (t *tally) stuck() bool { return !t.decided && t.inflight == 0 && t.need() == 0 }
