// Package loadgen commits seeded, deterministic workloads to a database:
// what `hotpipe load` runs, and what tests, benchmarks and demos use to
// fill a database with known transactions.
//
// Transaction i (counting from 0) of a Workload always holds the same
// entries for the same seed: keys "key" + (i*Entries+j) zero-padded to 8
// digits, values of ValueSize pseudo-random lowercase letters. With one
// worker the LSN order is deterministic too; with more, which transaction
// gets which LSN depends on scheduling.
package loadgen
