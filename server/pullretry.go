package server

import (
	"crypto/tls"
	"errors"
	"math/rand/v2"
	"net/http"
	"net/url"
	"time"

	"github.com/hotpipe/hotpipe/internal/exitcode"
	"github.com/hotpipe/hotpipe/stream"
)

// StatusError is a server's error answer: its HTTP status, and the error
// it described (an *exitcode.RemoteError, with the exit code).
type StatusError struct {
	Status int
	Err    error
}

func (e *StatusError) Error() string { return e.Err.Error() }
func (e *StatusError) Unwrap() error { return e.Err }

// retryable reports whether a pull that failed with err may succeed by
// trying again: the server was unreachable, answered 5xx (it is draining,
// say), or the stream broke or was cut on its side. A refusal (401, a
// database missing, a usage error), another history and damaged data are
// not: waiting changes none of them.
func retryable(err error) bool {
	var se *StatusError
	var re *exitcode.RemoteError
	var cv *tls.CertificateVerificationError
	var ue *url.Error
	switch {
	case errors.As(err, &cv):
		return false
	case errors.As(err, &se):
		return se.Status >= 500 || se.Status == http.StatusTooManyRequests
	case errors.As(err, &re): // in a trailer: the server's stream failed on its side
		return re.Code == exitcode.Failure || re.Code == exitcode.Interrupted
	case errors.Is(err, stream.ErrTruncated): // the connection broke
		return true
	case errors.As(err, &ue): // no connection
		return true
	}
	return false
}

// jitter returns d give or take a quarter, so that standbys cut off
// together do not reconnect together.
func jitter(d time.Duration) time.Duration {
	return d - d/4 + rand.N(d/2+1)
}
