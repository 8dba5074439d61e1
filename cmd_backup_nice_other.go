//go:build !linux

package main

import "errors"

// lowerPriority is hot-backup --nice, on Linux only.
func lowerPriority() error { return errors.New("--nice: supported on Linux only") }
