//go:build !unix

package stream

import (
	"errors"
	"os"
)

func mapFile(*os.File, int64) ([]byte, error) { return nil, errors.ErrUnsupported }
func unmapFile([]byte)                        {}
func dropPages([]byte)                        {}
