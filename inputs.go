package main

import (
	"context"
	"os"

	"github.com/urfave/cli/v2"

	"github.com/hotpipe/hotpipe/stream"
)

// openInputs opens the -i files, or stdin when there are none. Reads
// stop with stream.Stopped(ctx) as soon as ctx is cancelled, even when an
// input stalls.
func (e *env) openInputs(ctx context.Context, files []string) ([]stream.Input, func(), error) {
	if len(files) == 0 {
		return []stream.Input{{Name: "stdin", R: stream.Cancelable(ctx, e.stdin)}}, func() {}, nil
	}
	var inputs []stream.Input
	var opened []*os.File
	closeAll := func() {
		for _, f := range opened {
			f.Close()
		}
	}
	for _, name := range files {
		if name == "-" {
			inputs = append(inputs, stream.Input{Name: "stdin", R: stream.Cancelable(ctx, e.stdin)})
			continue
		}
		f, err := os.Open(name)
		if err != nil {
			closeAll()
			return nil, nil, err
		}
		opened = append(opened, f)
		inputs = append(inputs, stream.Input{Name: name, R: stream.Cancelable(ctx, f)})
	}
	return inputs, closeAll, nil
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
