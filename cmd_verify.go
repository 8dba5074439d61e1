package main

import (
	"context"
	"fmt"
	"time"

	"filippo.io/age"
	"github.com/urfave/cli/v2"

	"github.com/hotpipe/hotpipe/stream"
	"github.com/hotpipe/hotpipe/verify"
)

func verifyCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:      "verify",
		Usage:     "prove a backup without restoring it",
		ArgsUsage: "[FILE]...",
		Description: `Reads a stream from the FILEs in order, given as arguments or with -i (not
both), or from stdin when there are none (xz, gzip, bzip2 and zstd
are decompressed, age decrypted with --identity), and checks everything: the format, every CRC, the hash
chain from each segment's base, contiguity across segments and files, and
the end records. Prints one line per input and a summary on stdout: first
and last LSN, frames, bytes, commit-time range and final hash. A problem is
reported with its input, byte offset and LSN, and checking goes on with the
next input. Needs no database and never modifies its input.

With --quick, verify checks the structure, every CRC32C, LSN contiguity,
commit times, the end records and the stored hashes where two records
state one (a segment's base against what came before, an end record
against its last frame), without recomputing the SHA-256 of any body. It
catches torn, cut and damaged files at the speed of reading them, but it
does NOT prove content: a frame whose body was rewritten and its CRC
recomputed (with or without its stored hash) passes --quick; only a full
verify (without --quick) catches it. The summary says "mode: quick", and
--json reports "mode": "quick" ("full" otherwise).

With --addr, the server verifies the FILEs of its --backup-dir (named by
plain file names), and verify prints what it would print there.

Examples:
   hotpipe verify foo.backup
   bunzip2 -c foo.bz2 | hotpipe verify
   hotpipe verify full.backup inc1.backup --json
   hotpipe verify -i full.backup -i inc1.backup
   hotpipe verify --quick foo.backup
   hotpipe verify --addr db1:9899 foo.backup`,
		Flags: []cli.Flag{
			&cli.StringSliceFlag{Name: "input", Aliases: []string{"i"}, Usage: "read `FILE` (repeatable, in order; - is stdin)"},
			&cli.BoolFlag{Name: "quick", Usage: "check structure, CRC32C and stored hash links without re-hashing bodies (does not prove content)"},
			addrFlag(),
			jsonFlag(),
			identityFlag(),
		},
		Action: func(c *cli.Context) error {
			files, err := inputFiles(c)
			if err != nil {
				return err
			}
			if c.String("addr") != "" {
				if c.Bool("quick") {
					return usagef("verify --quick runs locally: the server's verify re-hashes every body")
				}
				return e.remoteVerify(c, files)
			}
			ids, err := identities(c)
			if err != nil {
				return err
			}
			inputs, closeInputs, err := e.openInputs(c.Context, files)
			if err != nil {
				return err
			}
			defer closeInputs()
			return e.verifyInputs(c.Context, inputs, files, ids, c.Bool("quick"))
		},
	}
}

// verifyReport is what verify --json prints.
type verifyReport struct {
	head
	Mode        string        `json:"mode"` // "full", or "quick": bodies not re-hashed
	Inputs      []inputJSON   `json:"inputs"`
	Problems    []problemJSON `json:"problems"`
	FirstLSN    uint64        `json:"first_lsn"`
	LastLSN     uint64        `json:"last_lsn"`
	Frames      uint64        `json:"frames"`
	Segments    int           `json:"segment_count"`
	Bytes       int64         `json:"bytes"`
	FirstCommit *time.Time    `json:"first_commit,omitempty"`
	LastCommit  *time.Time    `json:"last_commit,omitempty"`
	Hash        string        `json:"hash,omitempty"`
}

// inputJSON sums up one input.
type inputJSON struct {
	File     string `json:"file"`
	FirstLSN uint64 `json:"first_lsn"`
	LastLSN  uint64 `json:"last_lsn"`
	Frames   uint64 `json:"frames"`
	Segments int    `json:"segment_count"`
	OK       bool   `json:"ok"`
}

// verifyInputs verifies inputs as one stream (package verify), prints the
// report on stdout, and returns the report's error: nil when the stream
// verified, else the first finding, wrapped.
func (e *env) verifyInputs(ctx context.Context, inputs []stream.Input, files []string, ids []age.Identity, quick bool) error {
	prog := e.newProgress(e.command, "", 1, expectedEnd(files, 0))
	rep, err := verify.Stream(ctx, inputs, verify.Options{Identities: ids, Quick: quick, Progress: func(p verify.Progress) {
		prog.file = p.Source
		prog.add(p.Frames-prog.frames, int(p.Bytes-prog.bytes), p.LSN, 0)
	}})
	prog.finish()
	if err != nil {
		return err // interrupted: no report
	}
	if e.asJSON {
		e.report = verifyJSONOf(rep)
	} else {
		printVerify(e, rep)
	}
	return rep.Err()
}

func verifyJSONOf(rep *verify.Report) *verifyReport {
	out := &verifyReport{Mode: "full", Inputs: []inputJSON{}, Problems: []problemJSON{}, FirstLSN: rep.First, LastLSN: rep.Last,
		Frames: rep.Frames, Segments: rep.Segments, Bytes: rep.Bytes}
	if rep.Quick {
		out.Mode = "quick"
	}
	for _, in := range rep.Inputs {
		out.Inputs = append(out.Inputs, inputJSON{File: jsonFile(in.Source), FirstLSN: in.First, LastLSN: in.Last,
			Frames: in.Frames, Segments: in.Segments, OK: in.Findings == 0})
	}
	for _, f := range rep.Findings {
		out.Problems = append(out.Problems, problemOf(f, jsonFile(f.Source)))
	}
	if rep.Frames > 0 {
		out.FirstCommit, out.LastCommit, out.Hash = jsonTime(rep.FirstTime), jsonTime(rep.LastTime), rep.FinalHash.String()
	}
	return out
}

func inputStatus(in verify.InputReport) string {
	if in.Findings > 0 {
		return "problem"
	}
	return "ok"
}

// printVerify writes the report for a person: input names shown escaped and
// messages with control characters escaped, one line each, whatever bytes
// a file's name or an error carries.
func printVerify(e *env, rep *verify.Report) {
	w := e.stdout
	for _, in := range rep.Inputs {
		if in.Frames == 0 {
			fmt.Fprintf(w, "%s: no frames, %d segment(s), %s\n", shown(in.Source), in.Segments, inputStatus(in))
			continue
		}
		fmt.Fprintf(w, "%s: LSN %d..%d, %d frames, %d segment(s), %s\n", shown(in.Source), in.First, in.Last, in.Frames, in.Segments, inputStatus(in))
	}
	for _, f := range rep.Findings {
		if f.LSN != 0 {
			fmt.Fprintf(w, "problem: %s: offset %d (LSN %d): %s\n", shown(f.Source), f.Offset, f.LSN, shownText(f.Err.Error()))
		} else {
			fmt.Fprintf(w, "problem: %s: offset %d: %s\n", shown(f.Source), f.Offset, shownText(f.Err.Error()))
		}
	}
	if rep.Frames > 0 {
		fmt.Fprintf(w, "total: LSN %d..%d, %d frames, %d segment(s), %d bytes\n", rep.First, rep.Last, rep.Frames, rep.Segments, rep.Bytes)
		fmt.Fprintf(w, "commit times: %s .. %s\n", rep.FirstTime.Format(time.RFC3339Nano), rep.LastTime.Format(time.RFC3339Nano))
		fmt.Fprintf(w, "final hash: %s\n", rep.FinalHash)
	} else {
		fmt.Fprintf(w, "total: no frames, %d segment(s), %d bytes\n", rep.Segments, rep.Bytes)
		fmt.Fprintln(w, "no frames")
	}
	if rep.Quick {
		fmt.Fprintln(w, "mode: quick (structure, CRC32C and stored hashes; bodies not re-hashed, content not proved)")
	}
	if rep.OK() {
		fmt.Fprintln(w, "verify: ok")
	} else {
		fmt.Fprintf(w, "verify: %d problem(s)\n", len(rep.Findings))
	}
}
