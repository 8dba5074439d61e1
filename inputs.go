package main

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"os"

	"github.com/urfave/cli/v2"

	"github.com/hotpipe/hotpipe/stream"
)

// openInputs opens the -i files, or stdin when there are none. Reads
// stop with stream.Stopped(ctx) as soon as ctx is cancelled, even when an
// input stalls.
func (e *env) openInputs(ctx context.Context, files []string) ([]stream.Input, func(), error) {
	return e.inputsOf(ctx, files, false)
}

// inputsOf is openInputs, opening each file when it is first read when
// lazy is set: a restore that turns out to need no input (--if-not-exists)
// then needs no file.
func (e *env) inputsOf(ctx context.Context, files []string, lazy bool) ([]stream.Input, func(), error) {
	if len(files) == 0 {
		return []stream.Input{e.stdinInput(ctx)}, func() {}, nil
	}
	var inputs []stream.Input
	var closers []func() error
	closeAll := func() {
		for _, c := range closers {
			c()
		}
	}
	for _, name := range files {
		if name == "-" {
			inputs = append(inputs, e.stdinInput(ctx))
			continue
		}
		if lazy {
			l := &lazyFile{ctx: ctx, name: name}
			closers = append(closers, l.close)
			inputs = append(inputs, stream.Input{Name: inputName(name), R: l})
			continue
		}
		f, err := os.Open(name)
		if err != nil {
			closeAll()
			return nil, nil, err
		}
		hintInput(f)
		closers = append(closers, f.Close)
		inputs = append(inputs, stream.Input{Name: inputName(name), R: stream.Cancelable(ctx, f)})
	}
	return inputs, closeAll, nil
}

// stdinInput is standard input as an input. Read from a terminal, which
// is rarely what was meant, the command says it is waiting for a stream:
// it would otherwise sit silent until Ctrl-D.
func (e *env) stdinInput(ctx context.Context) stream.Input {
	if f, ok := e.stdin.(*os.File); ok && isTerminal(f) {
		e.notef("%s: waiting for a backup stream on stdin, a terminal (pipe one in or give FILE; Ctrl-D ends the input)", e.command)
	}
	return stream.Input{Name: stdinName, R: stream.Cancelable(ctx, e.stdin)}
}

// stdinName is standard input's name in messages ("stdin: offset 12: ...")
// and reports ("-" in JSON, see jsonFile).
const stdinName = "stdin"

// inputName is the name of an input file in messages and reports: its
// path, but ./stdin for a file named stdin, which would read as standard
// input.
func inputName(path string) string {
	if path == stdinName {
		return "./" + path
	}
	return path
}

// jsonFile is an input's name in JSON: "-" for standard input, as on the
// command line.
func jsonFile(name string) string {
	if name == stdinName {
		return "-"
	}
	return name
}

// inputFiles returns the files a command reads, given as arguments or
// with -i: either way, not both, since flags and arguments can be given in
// any order and the files' order matters.
func inputFiles(c *cli.Context) ([]string, error) {
	flagged, listed := c.StringSlice("input"), c.Args().Slice()
	if len(flagged) > 0 && len(listed) > 0 {
		return nil, usagef("%s: give the files as arguments or with -i, not both", commandPath(c))
	}
	return append(flagged, listed...), nil
}

// lazyFile opens its file at the first Read.
type lazyFile struct {
	ctx  context.Context
	name string
	f    *os.File
	r    io.Reader
}

func (l *lazyFile) Read(p []byte) (int, error) {
	if l.r == nil {
		f, err := os.Open(l.name)
		if err != nil {
			return 0, err
		}
		hintInput(f)
		l.f, l.r = f, stream.Cancelable(l.ctx, f)
	}
	return l.r.Read(p)
}

func (l *lazyFile) close() error {
	if l.f == nil {
		return nil
	}
	return l.f.Close()
}

// existingFiles leaves out of files those that do not exist, saying so
// (--if-input-exists: an optional input).
func (e *env) existingFiles(files []string) []string {
	var kept []string
	for _, f := range files {
		if _, err := os.Stat(f); f != "-" && errors.Is(err, fs.ErrNotExist) {
			e.notef("hot-restore: %s does not exist; left out (--if-input-exists)", f)
			continue
		}
		kept = append(kept, f)
	}
	return kept
}
