//go:build !linux

package server

import (
	"errors"
	"net"
	"net/http"
	"os"

	"github.com/hotpipe/hotpipe/backup"
)

// zeroCopyStream: frame blocks are sent from the segment files on Linux
// only; elsewhere every stream is written through net/http.
func zeroCopyStream(*http.Request, backup.Options) bool { return false }

func sendRange(net.Conn, *os.File, int64, int) (int, error) { return 0, errors.ErrUnsupported }

func refused(err error) bool { return errors.Is(err, errors.ErrUnsupported) }
