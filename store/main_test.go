package store

import (
	"testing"

	dstest "github.com/ipfs/go-datastore/test"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	// go-datastore's suite writes ElemCount keys per query test; it uses 20
	// (its documented minimum) under the race detector and 100 otherwise.
	// 20 keeps SubtestCombinations' 1152 queries to a few seconds.
	dstest.ElemCount = 20
	goleak.VerifyTestMain(m)
}
