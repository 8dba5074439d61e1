package main

import (
	"fmt"
	"path/filepath"

	"github.com/urfave/cli/v2"

	"github.com/hotpipe/hotpipe/verify"
)

func dbCheckCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:      "check",
		Usage:     "verify every byte of a database's durable history",
		ArgsUsage: "DB",
		Description: `Reads the whole durable prefix of DB and checks every frame (bounds, CRC,
entries, contiguous LSNs, commit times, the chained hash from LSN 1) and
every finished segment's seal. Reports every damaged frame with its file,
offset and LSN, then a summary; exit 3 if anything is damaged. Opening a
database checks only its structure (its segments and their seals), so
damage deep inside the history is found here. Takes no lock and never
writes: it runs beside a writer.

Examples:
   hotpipe db check foo
   hotpipe db check foo --json
   hotpipe db check foo --addr db1:9899   # the server's database, checked there`,
		Flags:  []cli.Flag{jsonFlag(), addrFlag()},
		Action: e.dbCheck,
	}
}

// checkReport is what db check --json prints.
type checkReport struct {
	head
	DB       string        `json:"db"`
	LastLSN  uint64        `json:"last_lsn"`
	Hash     string        `json:"hash"`
	Frames   uint64        `json:"frames"`
	Segments int           `json:"segment_files"`
	Bytes    int64         `json:"bytes"`
	Problems []problemJSON `json:"problems"`
}

func (e *env) dbCheck(c *cli.Context) error {
	if err := args(c, 1, 1); err != nil {
		return err
	}
	name := c.Args().First()
	if c.String("addr") != "" {
		return e.remoteCheck(c, name)
	}
	db, err := e.open(name, true)
	if err != nil {
		return err
	}
	defer db.Close()
	last, _, err := db.State()
	if err != nil {
		return err
	}
	prog := e.newProgress("db check", name, 1, last)
	opts := verify.Options{Progress: func(p verify.Progress) {
		prog.add(p.Frames-prog.frames, int(p.Bytes-prog.bytes), p.LSN, 0)
	}}
	if !e.asJSON { // each problem as it is found: a check of a large database takes a while
		opts.OnFinding = func(f verify.Finding) { e.printFinding(name, f) }
	}
	rep, err := verify.Database(c.Context, db, opts)
	prog.finish()
	return e.checked(name, rep, err)
}

// printFinding prints a damaged frame, seal or watermark of database name.
func (e *env) printFinding(name string, f verify.Finding) {
	fmt.Fprintf(e.stdout, "%s: %s offset %d (LSN %d): %s\n", name, filepath.Base(f.Source), f.Offset, f.LSN, f.Err)
}

// checked reports a check that ended: its findings are printed already.
func (e *env) checked(name string, rep *verify.DBReport, err error) error {
	if e.asJSON && rep != nil {
		e.report = checkJSONOf(rep) // how far it got, when it was stopped
	}
	if err != nil {
		return err
	}
	if e.asJSON {
		return rep.Err()
	}
	fmt.Fprintf(e.stdout, "%s: LSN 1..%d, %d frames ok, %d segment(s), %d bytes\n", name, rep.Last, rep.Frames, rep.Segments, rep.Bytes)
	if !rep.OK() {
		fmt.Fprintf(e.stdout, "db check: %d problem(s)\n", len(rep.Findings))
		return rep.Err()
	}
	fmt.Fprintln(e.stdout, "db check: ok")
	return nil
}

func checkJSONOf(rep *verify.DBReport) *checkReport {
	out := &checkReport{DB: rep.DB, LastLSN: rep.Last, Hash: rep.Hash.String(), Frames: rep.Frames,
		Segments: rep.Segments, Bytes: rep.Bytes, Problems: []problemJSON{}}
	for _, f := range rep.Findings {
		out.Problems = append(out.Problems, problemOf(f, f.Source))
	}
	return out
}
