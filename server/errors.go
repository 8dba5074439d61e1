package server

import (
	"encoding/json"
	"errors"
	"net/http"

	"github.com/hotpipe/hotpipe/engine"
	"github.com/hotpipe/hotpipe/internal/exitcode"
)

var errUsage = exitcode.ErrUsage

// httpError is an error answered with a status of its own, rather than
// the one its exit code maps to.
type httpError struct {
	status int
	err    error
}

func (e *httpError) Error() string { return e.err.Error() }
func (e *httpError) Unwrap() error { return e.err }

// ErrorBody is the JSON body of every error answer.
type ErrorBody struct {
	Error ErrorJSON `json:"error"`
}

// ErrorJSON is an error as the server reports it: its message, and the
// exit code (and that code's name) the same command ends in when run
// locally.
type ErrorJSON struct {
	Message  string `json:"message"`
	ExitCode int    `json:"exit_code"`
	Kind     string `json:"kind"`
}

// errorJSON describes err.
func errorJSON(err error) ErrorJSON {
	code := exitcode.Of(err)
	return ErrorJSON{Message: err.Error(), ExitCode: code, Kind: exitcode.Kind(code)}
}

// statusOf is the HTTP status an error is answered with.
func statusOf(err error) int {
	var he *httpError
	if errors.As(err, &he) {
		return he.status
	}
	if errors.Is(err, engine.ErrNotFound) {
		return http.StatusNotFound
	}
	switch exitcode.Of(err) {
	case exitcode.Usage:
		return http.StatusBadRequest
	case exitcode.Integrity:
		return http.StatusUnprocessableEntity
	case exitcode.History:
		return http.StatusConflict
	case exitcode.Locked:
		return http.StatusLocked
	case exitcode.Interrupted:
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

func writeError(w http.ResponseWriter, err error) {
	writeJSON(w, statusOf(err), ErrorBody{Error: errorJSON(err)})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v) // a client gone is the client's loss
}
