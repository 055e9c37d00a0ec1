// Package cputime reads the CPU time the process has used, for benchmarks
// that report CPU per operation: on a machine with other work, or with
// goroutines waiting on a disk, CPU time measures the cost of an operation
// better than the wall clock does.
//
// # Concurrency
//
// Process is safe for concurrent use.
package cputime
