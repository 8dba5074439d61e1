package main

import "os"

// adviseInput is how an input file's read pattern is told to the system;
// tests replace it to count the hints and to make them fail.
var adviseInput = adviseSequential

// hintInput tells the system that f, an input file, is read once from
// start to end: on Linux the kernel then reads ahead twice as far
// (POSIX_FADV_SEQUENTIAL), which keeps a restore of a backup that is not
// in the page cache fed. A hint is only a hint: a system or a file that
// refuses it (a pipe given as -i /dev/stdin: ESPIPE) reads the same
// bytes, only without it, so its error is ignored.
func hintInput(f *os.File) {
	_ = adviseInput(f)
}
