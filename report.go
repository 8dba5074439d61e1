package main

import (
	"encoding/json"
	"errors"
	"io"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/hotpipe/hotpipe/engine"
	"github.com/hotpipe/hotpipe/internal/exitcode"
	"github.com/hotpipe/hotpipe/repo"
	"github.com/hotpipe/hotpipe/stream"
	"github.com/hotpipe/hotpipe/verify"
)

// --json: every command that reports prints one JSON object, on one line,
// in the schema docs/JSON.md documents: the same key for the same thing in
// every command, and an error as a field of the object rather than a line
// of text. A command records its report in env.report; run prints it,
// with the outcome, once the command has returned, so that a command that
// fails before it has anything to say still prints an object.

// jsonFlag is the --json flag of every command that reports.
func jsonFlag() cli.Flag {
	return &cli.BoolFlag{Name: "json", Usage: "print the report as one JSON object on one line, errors included (docs/JSON.md)"}
}

// reporter is a command's report: a struct that embeds head.
type reporter interface{ top() *head }

// head is what every report starts with.
type head struct {
	Command string     `json:"command"`
	OK      bool       `json:"ok"`
	Error   *jsonError `json:"error,omitempty"`
}

func (h *head) top() *head { return h }

// jsonError is a failed command's error: its message on one line, the
// exit code it ends in and that code's name, and where the problem is,
// when the error says.
type jsonError struct {
	Message  string `json:"message"`
	ExitCode int    `json:"exit_code"`
	Kind     string `json:"kind"`
	File     string `json:"file,omitempty"`
	Object   string `json:"object,omitempty"`
	Offset   *int64 `json:"offset,omitempty"`
	LSN      uint64 `json:"lsn,omitempty"`
}

func jsonErrorOf(err error) *jsonError {
	code := exitCode(err)
	je := &jsonError{Message: oneLine(err.Error()), ExitCode: code, Kind: exitcode.Kind(code)}
	var se *stream.Error
	var ce *engine.CorruptionError
	var f verify.Finding
	var p repo.Problem
	switch {
	case errors.As(err, &p) && p.Key != "":
		je.Object, je.Offset, je.LSN = p.Key, &p.Offset, p.LSN
	case errors.As(err, &f):
		je.File, je.Offset, je.LSN = jsonFile(f.Source), &f.Offset, f.LSN
	case errors.As(err, &se):
		je.File, je.Offset, je.LSN = jsonFile(se.Source), &se.Offset, se.LSN
	case errors.As(err, &ce):
		je.File, je.Offset, je.LSN = ce.Path, &ce.Offset, ce.LSN
	}
	return je
}

// oneLine puts a message on one line: a library's message or a name in it
// may hold line breaks.
func oneLine(s string) string {
	return strings.Join(strings.FieldsFunc(s, func(r rune) bool { return r == '\n' || r == '\r' }), " ")
}

// printReport prints the command's report with its outcome, as one line
// of JSON on w.
func printReport(w io.Writer, command string, r reporter, err error) {
	if r == nil {
		r = &head{}
	}
	h := r.top()
	h.Command, h.OK = command, err == nil
	if err != nil {
		h.Error = jsonErrorOf(err)
	}
	json.NewEncoder(w).Encode(r)
}

// jsonTime is a time as reports give it: RFC 3339 with nanoseconds, UTC;
// nil (left out) when zero.
func jsonTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	u := t.UTC()
	return &u
}

// jsonNanos is jsonTime of a time in Unix nanoseconds, 0 meaning none.
func jsonNanos(ns int64) *time.Time {
	if ns == 0 {
		return nil
	}
	return jsonTime(time.Unix(0, ns))
}

// perSecond is n things over d, per second, for reports.
func perSecond(n float64, d time.Duration) float64 {
	return n / max(d.Seconds(), 1e-9)
}

// problemJSON is one problem a verify or check found.
type problemJSON struct {
	File    string `json:"file,omitempty"`
	Object  string `json:"object,omitempty"`
	Offset  int64  `json:"offset"`
	LSN     uint64 `json:"lsn,omitempty"`
	Message string `json:"message"`
}

func problemOf(f verify.Finding, file string) problemJSON {
	return problemJSON{File: file, Offset: f.Offset, LSN: f.LSN, Message: oneLine(f.Err.Error())}
}
