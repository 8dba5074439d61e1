//go:build !linux

package backup

import (
	"io"
	"os"
)

// spliceOut is the zero-copy path into a pipe, on Linux only.
type spliceOut struct {
	io.Writer
	spliced func(int)
	ahead   bool
}

func newSpliceOut(*os.File) *spliceOut { return nil }

func (s *spliceOut) offer(*os.File, int64, []byte) {}

func (s *spliceOut) finish() error { return nil }

func (s *spliceOut) wrap(func(func(*os.File, int64, int) (int, error)) func(*os.File, int64, int) (int, error)) {
}
