package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/hotpipe/hotpipe/stream"
)

func inspectCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:      "inspect",
		Usage:     "list a backup file's segments from their headers and end records",
		ArgsUsage: "FILE",
		Description: `Prints each segment of FILE (an argument, or -i FILE; - is stdin): source
database, origin, creation time, LSN
range, frames and bytes. An uncompressed file whose segments are whole is
read from its end records alone, without scanning frames; a compressed or
torn file is scanned, and a torn last segment is shown as truncated.
An age-encrypted file is scanned with --identity; without a key that
decrypts it, inspect shows only what its header and size tell (the type of
each recipient) and exits 3.

Examples:
   hotpipe inspect foo.backup
   hotpipe inspect foo.bz2 --json`,
		Flags: []cli.Flag{
			&cli.StringSliceFlag{Name: "input", Aliases: []string{"i"}, Usage: "read `FILE` (- is stdin)"},
			jsonFlag(),
			identityFlag(),
		},
		Action: e.inspect,
	}
}

// segmentInfo is one segment as inspect shows it.
type segmentInfo struct {
	Offset   int64     `json:"offset"`
	DB       string    `json:"db"`
	Origin   string    `json:"origin"`
	Created  time.Time `json:"created"`
	BaseLSN  uint64    `json:"base_lsn"`
	FirstLSN uint64    `json:"first_lsn"`
	LastLSN  uint64    `json:"last_lsn"`
	Frames   uint64    `json:"frames"`
	Bytes    uint64    `json:"bytes"`
	Hash     string    `json:"hash"`
	Complete bool      `json:"complete"`
}

// inspectReport is what inspect --json prints.
type inspectReport struct {
	head
	File     string        `json:"file"`
	Read     string        `json:"read"` // "end_records" or "scan"
	Segments []segmentInfo `json:"segments"`
}

func (e *env) inspect(c *cli.Context) error {
	files, err := inputFiles(c)
	if err != nil {
		return err
	}
	if len(files) != 1 {
		return usagef("inspect: expects FILE, got %d argument(s)", len(files))
	}
	ids, err := identities(c)
	if err != nil {
		return err
	}
	f, name, closeFile, err := e.openInspected(files[0])
	if err != nil {
		return err
	}
	defer closeFile()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	var list []stream.SegmentInfo
	scanned, listErr, opts := true, error(nil), stream.Options{Identities: ids}
	if fi.Mode().IsRegular() {
		list, scanned, listErr = stream.List(c.Context, f, fi.Size(), name, opts)
	} else { // a pipe or a device: read it once, forward
		list, listErr = stream.ListReader(c.Context, stream.Cancelable(c.Context, f), name, opts)
	}
	if enc, ok := encryptedInfo(listErr, fi); ok {
		return e.inspectEncrypted(name, enc, listErr)
	}
	if errors.Is(listErr, context.Canceled) {
		return listErr // interrupted: no listing, as verify prints no report
	}
	segs := []segmentInfo{}
	for _, s := range list {
		segs = append(segs, info(s))
	}
	if e.asJSON {
		read := "end_records"
		if scanned {
			read = "scan"
		}
		e.report = &inspectReport{File: jsonFile(name), Read: read, Segments: segs}
	} else {
		printSegments(e, name, segs, scanned)
	}
	return listErr
}

func info(s stream.SegmentInfo) segmentInfo {
	h, end := s.Header, s.End
	return segmentInfo{Offset: s.Offset, DB: h.Name, Origin: h.Origin.String(), Created: h.Created.UTC(), BaseLSN: h.Base,
		FirstLSN: end.First, LastLSN: end.Last, Frames: end.Frames, Bytes: end.Length, Hash: end.LastHash.String(), Complete: s.Complete}
}

// printSegments prints one line per segment. Names are shown escaped: a
// header's source name is whatever bytes the file holds.
func printSegments(e *env, name string, segs []segmentInfo, scanned bool) {
	how := "from its end records"
	if scanned {
		how = "by scanning"
	}
	fmt.Fprintf(e.stdout, "%s: %d segment(s), read %s\n", shown(name), len(segs), how)
	for i, s := range segs {
		state := ""
		if !s.Complete {
			state = ", truncated (no end record)"
		}
		lsns := fmt.Sprintf("LSN %d..%d (base %d), %d frames", s.FirstLSN, s.LastLSN, s.BaseLSN, s.Frames)
		if s.Frames == 0 {
			lsns = fmt.Sprintf("no frames (base %d)", s.BaseLSN)
		}
		fmt.Fprintf(e.stdout, "segment %d at offset %d: source %s, origin %s, created %s, %s, %d bytes, last hash %s%s\n",
			i+1, s.Offset, shown(s.DB), s.Origin, s.Created.Format(time.RFC3339), lsns, s.Bytes, s.Hash, state)
	}
}

// openInspected opens the file inspect lists, and returns what closes
// it; "-" is stdin, which stays open.
func (e *env) openInspected(name string) (*os.File, string, func() error, error) {
	if name != "-" {
		f, err := os.Open(name)
		if err != nil {
			return nil, "", nil, err
		}
		return f, inputName(name), f.Close, nil
	}
	f, ok := e.stdin.(*os.File)
	if !ok {
		return nil, "", nil, usagef("inspect: stdin is not a file here")
	}
	return f, stdinName, func() error { return nil }, nil
}
