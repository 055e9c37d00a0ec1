package main

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fog-compute/fog/node"
)

// fog stake on a devnet: every node starts with devnetStake staked; node1
// locks more and unlocks some, each confirmed, and an unlock beyond the
// stake is refused saying what is staked.
func TestDevnetStake(t *testing.T) {
	d, ctx := testDevnet(t, 3, 2*time.Minute)
	run := func(args ...string) (string, string, error) {
		return fog(t, ctx, append([]string{"--path", string(d.dirs[1])}, args...)...)
	}

	out, errOut, err := run("stake", "lock", "50cr", "--wait")
	require.NoError(t, err, errOut)
	assert.Contains(t, out, "staked 50 credits (50000000 micro-credits): confirmed")
	assert.Contains(t, out, "balance 950 credits (950000000 micro-credits), staked 150 credits (150000000 micro-credits)")

	out, errOut, err = run("--json", "stake", "unlock", "20cr", "--wait")
	require.NoError(t, err, errOut)
	var r node.StakeResult
	require.NoError(t, json.Unmarshal([]byte(out), &r))
	assert.True(t, r.Confirmed)
	assert.Equal(t, uint64(130*microPerCredit), r.Staked)
	assert.Equal(t, uint64(950*microPerCredit), r.Balance)

	// fog dao: node1 proposes and votes yes with its 130 credits of the
	// 330 staked, 39%: above the quorum of 33.4%, and all yes: accepted.
	out, errOut, err = run("--json", "dao", "propose", "lottery.target_relays", "12", "--window", "1000")
	require.NoError(t, err, errOut)
	var p node.DAOProposal
	require.NoError(t, json.Unmarshal([]byte(out), &p))
	assert.Equal(t, "lottery.target_relays", p.Param)
	out, errOut, err = run("dao", "vote", p.ID, "yes", "--wait")
	require.NoError(t, err, errOut)
	assert.Contains(t, out, "voted yes: confirmed")
	out, errOut, err = run("dao", "show", p.ID)
	require.NoError(t, err, errOut)
	assert.Contains(t, out, "lottery.target_relays = 12")
	assert.Contains(t, out, "yes 130, no 0, abstain 0 of 330 staked; quorum true, accepted true")
	out, errOut, err = run("dao", "ls")
	require.NoError(t, err, errOut)
	assert.Contains(t, out, "lottery.target_relays  12")

	for _, tc := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"over stake", []string{"stake", "unlock", "500cr"}, exitFailed, "insufficient stake to unlock: 130000000 micro-credits staked, 500000000 asked"},
		{"over balance", []string{"stake", "lock", "5000cr"}, exitFailed, "insufficient balance to stake: 950000000 micro-credits available"},
		{"bad amount", []string{"stake", "lock", "x"}, exitUsage, `amount "x"`},
		{"no amount", []string{"stake", "unlock"}, exitUsage, "an amount"},
		{"bad choice", []string{"dao", "vote", p.ID, "maybe"}, exitUsage, `choice "maybe"`},
		{"bad proposal", []string{"dao", "show", "nope"}, exitUsage, "want a proposal ID"},
		{"unknown parameter", []string{"dao", "propose", "epoch_length", "60"}, exitUsage, `unknown network parameter "epoch_length"`},
		{"short delay", []string{"dao", "propose", "lottery.min_stake", "5", "--delay", "1"}, exitUsage, "execution delay 1 epochs: at least"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, errOut, err := run(tc.args...)
			require.Error(t, err)
			assert.Equal(t, tc.code, exitCode(err))
			var buf bytes.Buffer
			printError(&buf, err)
			assert.Contains(t, buf.String()+errOut, tc.want)
		})
	}
}
