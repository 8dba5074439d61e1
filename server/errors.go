package server

import (
	"encoding/json"
	"errors"
	"net/http"

	"github.com/hotpipe/hotpipe/backup"
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
	// Range describes a backup's range outside the database.
	Range *RangeJSON `json:"range,omitempty"`
}

// RangeJSON is a *backup.RangeError.
type RangeJSON struct {
	DB    string `json:"db"`
	Start uint64 `json:"start_lsn"`
	End   uint64 `json:"end_lsn"`
	Last  uint64 `json:"last_lsn"`
}

// errorJSON describes err.
func errorJSON(err error) ErrorJSON {
	code := exitcode.Of(err)
	e := ErrorJSON{Message: err.Error(), ExitCode: code, Kind: exitcode.Kind(code)}
	var rng *backup.RangeError
	if errors.As(err, &rng) {
		e.Range = &RangeJSON{DB: rng.DB, Start: rng.Start, End: rng.End, Last: rng.Last}
	}
	return e
}

// remoteError is the error e describes, for a client.
func remoteError(e ErrorJSON) error {
	code := e.ExitCode
	if code == exitcode.OK || exitcode.Kind(code) == "" { // an error is never a success, nor a code the CLI does not know
		code = exitcode.Failure
	}
	re := &exitcode.RemoteError{Message: e.Message, Code: code}
	if r := e.Range; r != nil {
		re.Err = &backup.RangeError{DB: r.DB, Start: r.Start, End: r.End, Last: r.Last}
	}
	return re
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
