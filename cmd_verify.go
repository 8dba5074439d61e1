package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/hotpipe/hotpipe/stream"
	"github.com/hotpipe/hotpipe/txframe"
)

func verifyCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:  "verify",
		Usage: "prove a backup without restoring it",
		Description: `Reads a stream from stdin or from the -i files in order (xz, gzip and bzip2
are decompressed) and checks everything: the format, every CRC, the hash
chain from each segment's base, contiguity across segments and files, and
the end records. Prints one line per input and a summary on stdout: first
and last LSN, frames, bytes, commit-time range and final hash. A problem is
reported with its input, byte offset and LSN, and checking goes on with the
next input. Needs no database and never modifies its input.

Examples:
   hotpipe verify -i foo.backup
   bunzip2 -c foo.bz2 | hotpipe verify
   hotpipe verify -i full.backup -i inc1.backup --json`,
		Flags: []cli.Flag{
			&cli.StringSliceFlag{Name: "input", Aliases: []string{"i"}, Usage: "read `FILE` (repeatable, in order; - is stdin)"},
			&cli.BoolFlag{Name: "json", Usage: "print the report as JSON"},
		},
		Action: func(c *cli.Context) error {
			if err := args(c, 0, 0); err != nil {
				return err
			}
			inputs, closeInputs, err := e.openInputs(c.Context, c.StringSlice("input"))
			if err != nil {
				return err
			}
			defer closeInputs()
			return e.verifyInputs(c.Context, inputs, c.Bool("json"))
		},
	}
}

// verifyReport is what verify prints.
type verifyReport struct {
	OK        bool          `json:"ok"`
	Inputs    []*inputStats `json:"inputs"`
	Problems  []problem     `json:"problems"`
	First     uint64        `json:"first_lsn"`
	Last      uint64        `json:"last_lsn"`
	Frames    uint64        `json:"frames"`
	Segments  int           `json:"segments"`
	Bytes     int64         `json:"bytes"`
	FirstTime *time.Time    `json:"first_commit,omitempty"`
	LastTime  *time.Time    `json:"last_commit,omitempty"`
	FinalHash string        `json:"final_hash,omitempty"`
	firstErr  error
	bySource  map[string]*inputStats
}

type inputStats struct {
	Source   string `json:"source"`
	First    uint64 `json:"first_lsn"`
	Last     uint64 `json:"last_lsn"`
	Frames   uint64 `json:"frames"`
	Segments int    `json:"segments"`
	Status   string `json:"status"`
}

type problem struct {
	Source  string `json:"source"`
	Offset  int64  `json:"offset"`
	LSN     uint64 `json:"lsn,omitempty"`
	Message string `json:"message"`
}

func (e *env) verifyInputs(ctx context.Context, inputs []stream.Input, asJSON bool) error {
	rep := &verifyReport{Problems: []problem{}}
	if err := rep.read(ctx, inputs); err != nil {
		return err
	}
	rep.OK = len(rep.Problems) == 0
	if asJSON {
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			return err
		}
	} else {
		rep.print(e)
	}
	if rep.firstErr != nil {
		return fmt.Errorf("verify found %d problem(s); the first: %w", len(rep.Problems), rep.firstErr)
	}
	return nil
}

// read checks inputs as one stream. After a problem, which it records, it
// skips to the next segment header and goes on, so every problem is
// reported and the joins after a damaged region are still checked.
func (rep *verifyReport) read(ctx context.Context, inputs []stream.Input) error {
	r := stream.NewReader(inputs, stream.Options{KeepGoing: true, ParallelHash: true})
	for {
		if err := interrupted(ctx); err != nil {
			return err
		}
		ev, err := r.Next()
		if err == io.EOF {
			return nil
		}
		if ierr := interrupted(ctx); err != nil && ierr != nil {
			return ierr
		}
		if err != nil {
			rep.problem(err)
			r.Resync()
			continue
		}
		rep.add(ev, rep.input(ev.Source))
	}
}

// input returns the line of the report for source, starting it ("ok") the
// first time source is seen, by a problem or an event.
func (rep *verifyReport) input(source string) *inputStats {
	if st := rep.bySource[source]; st != nil {
		return st
	}
	if rep.bySource == nil {
		rep.bySource = make(map[string]*inputStats)
	}
	st := &inputStats{Source: source, Status: "ok"}
	rep.bySource[source] = st
	rep.Inputs = append(rep.Inputs, st)
	return st
}

func (rep *verifyReport) add(ev *stream.Event, st *inputStats) {
	switch ev.Kind {
	case stream.KindHeader:
		st.Segments++
		rep.Segments++
		rep.Bytes += stream.HeaderSize
	case stream.KindEnd:
		rep.Bytes += stream.EndSize
	case stream.KindFrames:
		n := ev.Last - ev.First + 1
		if st.Frames == 0 {
			st.First = ev.First
		}
		if rep.Frames == 0 {
			rep.First = ev.First
			_, first := txframe.Fields(ev.Frames)
			t := time.Unix(0, first).UTC()
			rep.FirstTime = &t
		}
		st.Last, st.Frames = ev.Last, st.Frames+n
		rep.Last, rep.Frames = ev.Last, rep.Frames+n
		rep.Bytes += int64(len(ev.Frames))
		t := time.Unix(0, ev.LastTime).UTC()
		rep.LastTime, rep.FinalHash = &t, ev.LastHash.String()
	}
}

func (rep *verifyReport) problem(err error) {
	p := problem{Message: err.Error()}
	var se *stream.Error
	if errors.As(err, &se) {
		p = problem{Source: se.Source, Offset: se.Offset, LSN: se.LSN, Message: se.Err.Error()}
	}
	rep.Problems = append(rep.Problems, p)
	if rep.firstErr == nil {
		rep.firstErr = err
	}
	rep.input(p.Source).Status = "problem"
}

// print writes the report for a person: input names shown escaped and
// messages with control characters escaped, one line each, whatever bytes
// a file's name or an error carries.
func (rep *verifyReport) print(e *env) {
	w := e.stdout
	for _, st := range rep.Inputs {
		if st.Frames == 0 {
			fmt.Fprintf(w, "%s: no frames, %d segment(s), %s\n", shown(st.Source), st.Segments, st.Status)
			continue
		}
		fmt.Fprintf(w, "%s: LSN %d..%d, %d frames, %d segment(s), %s\n", shown(st.Source), st.First, st.Last, st.Frames, st.Segments, st.Status)
	}
	for _, p := range rep.Problems {
		if p.LSN != 0 {
			fmt.Fprintf(w, "problem: %s: offset %d (LSN %d): %s\n", shown(p.Source), p.Offset, p.LSN, shownText(p.Message))
		} else {
			fmt.Fprintf(w, "problem: %s: offset %d: %s\n", shown(p.Source), p.Offset, shownText(p.Message))
		}
	}
	if rep.Frames > 0 {
		fmt.Fprintf(w, "total: LSN %d..%d, %d frames, %d segment(s), %d bytes\n", rep.First, rep.Last, rep.Frames, rep.Segments, rep.Bytes)
	} else {
		fmt.Fprintf(w, "total: no frames, %d segment(s), %d bytes\n", rep.Segments, rep.Bytes)
	}
	if rep.FirstTime != nil {
		fmt.Fprintf(w, "commit times: %s .. %s\n", rep.FirstTime.Format(time.RFC3339Nano), rep.LastTime.Format(time.RFC3339Nano))
		fmt.Fprintf(w, "final hash: %s\n", rep.FinalHash)
	}
	if rep.FinalHash == "" {
		fmt.Fprintln(w, "no frames")
	}
	if rep.OK {
		fmt.Fprintln(w, "verify: ok")
	} else {
		fmt.Fprintf(w, "verify: %d problem(s)\n", len(rep.Problems))
	}
}
