//go:build !linux

package main

import "errors"

const evictMethod = ""

// evict needs posix_fadvise and mincore: the cold rows are Linux's.
func evict([]string) (resident, pages int, err error) {
	return 0, 0, errors.New("cold-cache rows need Linux (posix_fadvise, mincore)")
}
