package cputime

import "time"

// Process returns the CPU time (user and system, all threads) the process
// has used so far, and whether the platform reports it; where it does not,
// it returns 0 and false.
func Process() (time.Duration, bool) { return process() }
