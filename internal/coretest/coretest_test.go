package coretest

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// recorder is a testing.TB that records failures instead of failing.
type recorder struct {
	testing.TB
	errors, fatals int
}

func (r *recorder) Helper()                  {}
func (r *recorder) Errorf(string, ...any)    { r.errors++ }
func (r *recorder) Fatalf(string, ...any)    { r.fatals++ }
func (r *recorder) Fatal(...any)             { r.fatals++ }
func (r *recorder) Skipf(f string, a ...any) { r.TB.Skipf(f, a...) }

// TestNoIOCatches: this package depends on the testing tools only, so it
// passes NoIO as a core, and fails when one of its own dependencies is
// forbidden, or when the dependency that shows go list worked is missing.
func TestNoIOCatches(t *testing.T) {
	r := &recorder{TB: t}
	NoIO(r, "go/parser")
	assert.Zero(t, r.errors+r.fatals, "a package without I/O passes")
	r = &recorder{TB: t}
	NoIO(r, "go/parser", "go/ast")
	assert.Positive(t, r.errors, "a forbidden dependency is caught")
	r = &recorder{TB: t}
	NoIO(r, "github.com/fog-compute/fog/nothing")
	assert.Positive(t, r.fatals, "a missing witness dependency fails")
}

// TestNoClockCatches: this package's own files call no clock; coretest.go
// is checked, the test files are not.
func TestNoClockCatches(t *testing.T) {
	r := &recorder{TB: t}
	NoClock(r)
	assert.Zero(t, r.errors+r.fatals)
	r = &recorder{TB: t}
	noClockIn(r, "testdata/clocked")
	assert.Equal(t, 2, r.errors, "time.Now and time.After are caught")
}
