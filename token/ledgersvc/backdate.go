package ledgersvc

import (
	"fmt"
	"time"

	"github.com/fog-compute/fog/token"
)

// checkBackdate ignores a block new to this node that is dated more than
// MaxBackdate epochs before the current one. Such a block is not relayed,
// not taken and not voted for, so it cannot be confirmed by honest
// representatives: what the confirmed blocks of an epoch add up to (the
// stake the lottery weighs, a DAO window's ballots) stops changing once
// the epoch is Settled. It is ignored rather than rejected: an honest
// relay on a slow link may still carry it, and a node that missed it gets
// it by the catch-up if it was confirmed after all.
func (s *Service) checkBackdate(b *token.Block, now time.Time) error {
	if e := s.cfg.Epoch(now); b.Epoch+s.cfg.MaxBackdate < e {
		return s.ignore(IgnoredBackdated, fmt.Errorf("block of epoch %d at epoch %d, more than %d back", b.Epoch, e, s.cfg.MaxBackdate))
	}
	return nil
}

// SettledBefore returns the last ledger epoch whose blocks are settled at
// time t (Config.SettledBefore), and false if there is none.
func (s *Service) SettledBefore(t time.Time) (uint64, bool) { return s.cfg.SettledBefore(t) }

// Stakes returns the ledger's stake table as of epoch e (token.Ledger.Stakes)
// from the confirmed blocks held now.
func (s *Service) Stakes(e, minStake uint64) token.StakeTable {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.node.Ledger().Stakes(e, minStake)
}
