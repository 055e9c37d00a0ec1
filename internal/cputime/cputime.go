// Package cputime reads the CPU time the process has used, for benchmarks
// that report CPU per operation: on a machine with other work, or with
// goroutines waiting on a disk, CPU time measures the cost of an operation
// better than the wall clock does.
package cputime

import "time"

// Process returns the CPU time (user and system, all threads) the process
// has used so far, and whether the platform reports it; where it does not,
// it returns 0 and false.
func Process() (time.Duration, bool) { return process() }
