//go:build race

package node

// raceEnabled: the race detector's shadow memory inflates RSS several
// times over, so TestAttacks bounds the Go heap's growth instead.
const raceEnabled = true
