//go:build race

package lottery

// raceEnabled says the race detector is on: it slows the VRF and
// signature code by an order of magnitude, so network tests give gossip
// wider windows.
const raceEnabled = true
