package node

import (
	"sync"
	"time"

	"github.com/fog-compute/fog/internal/clock"
	"github.com/fog-compute/fog/mix/lottery"
	"github.com/fog-compute/fog/token"
)

// epochSource is what daoEpochs reads of the ledger: the ledger service
// and its DAO (ledgerSource).
type epochSource interface {
	// EpochAt returns the ledger epoch at t.
	EpochAt(t time.Time) uint64
	// EpochStart returns when ledger epoch e starts.
	EpochStart(e uint64) time.Time
	// ParamChanges returns the accepted changes of param that apply at
	// ledger epoch e or before, in the order they apply.
	ParamChanges(param string, e uint64) []token.ParamChange
}

func (s ledgerSource) ParamChanges(param string, e uint64) []token.ParamChange {
	return s.dao.ParamChanges(param, e)
}

// daoEpochs is the relay lottery's epoch schedule (lottery.Epochs) under
// the DAO's lottery.epoch_length: the configured epochs, changed by every
// accepted change whose ExecuteAt ledger epoch has started
// (lotterySchedule). A change at ledger epoch X applies from the second
// lottery boundary after X starts (lottery.Schedule.Change), so the
// answers for the running lottery epoch and the next never change when a
// change comes into force on time: every node holding the DAO's decisions
// by X (what the minimum execution delay gives the DAO's other
// parameters too) has at least a whole lottery epoch before its answers
// differ. A node that learns of a change later than that follows it as
// soon as it does, and rejoins the network's seed chain the way a late
// joiner does. It is safe for concurrent use.
type daoEpochs struct {
	lcfg lottery.Config // the configured epochs (Epochs nil)
	src  epochSource
	clk  clock.Clock

	mu    sync.Mutex
	at    uint64 // the ledger epoch sched was computed at
	ok    bool   // sched is set
	sched lottery.Schedule
}

var _ lottery.Epochs = (*daoEpochs)(nil)

func newDAOEpochs(lcfg lottery.Config, src epochSource, clk clock.Clock) *daoEpochs {
	lcfg.Epochs = nil
	return &daoEpochs{lcfg: lcfg, src: src, clk: clk}
}

// schedule returns the schedule in force now, computed again when the
// ledger epoch has moved on since the last time.
func (d *daoEpochs) schedule() lottery.Schedule {
	x := d.src.EpochAt(d.clk.Now())
	d.mu.Lock()
	defer d.mu.Unlock()
	if !d.ok || d.at != x {
		d.sched = lotterySchedule(d.lcfg, d.src.ParamChanges(token.ParamEpochLength, x), d.src.EpochStart)
		d.at, d.ok = x, true
	}
	return d.sched
}

// EpochStart implements lottery.Epochs.
func (d *daoEpochs) EpochStart(e uint64) time.Time { return d.schedule().EpochStart(e) }

// EpochAt implements lottery.Epochs.
func (d *daoEpochs) EpochAt(t time.Time) (uint64, bool) { return d.schedule().EpochAt(t) }

// lotterySchedule returns the lottery's schedule under changes of
// lottery.epoch_length (milliseconds), in the order they apply: each at
// the start of its ledger epoch (ledgerStart), applied to the schedule
// the ones before it made (lottery.Schedule.Change). A length the
// lottery's windows do not fit (lottery.Config.CheckEpochLength) is
// passed over. It is a pure function of its arguments: every node holding
// the same decisions gets the same schedule.
func lotterySchedule(lcfg lottery.Config, changes []token.ParamChange, ledgerStart func(uint64) time.Time) lottery.Schedule {
	lcfg.Epochs = nil
	s, err := lottery.NewSchedule(lcfg.Genesis, lcfg.EpochLength)
	if err != nil {
		return s // the zero Schedule; lcfg passed Validate, so never
	}
	for _, c := range changes {
		if c.Value > uint64(lottery.MaxEpochLength/time.Millisecond) {
			continue
		}
		l := time.Duration(c.Value) * time.Millisecond
		if lcfg.CheckEpochLength(l) != nil {
			continue
		}
		if n, _, err := s.Change(ledgerStart(c.At), l); err == nil {
			s = n
		}
	}
	return s
}

// epochLengthApplies reports whether a change of the lottery's epoch
// length to ms milliseconds can apply on a network of lcfg: the DAO's
// bounds and the lottery's windows. Its error says why not.
func epochLengthApplies(lcfg lottery.Config, ms uint64) error {
	if err := token.CheckParam(token.ParamEpochLength, ms); err != nil {
		return err
	}
	return lcfg.CheckEpochLength(time.Duration(ms) * time.Millisecond)
}
