package main

import (
	"io"
	"os"

	"github.com/hotpipe/hotpipe/replica"
	"github.com/hotpipe/hotpipe/stream"
)

// stdinDrain reads standard input, where it is among inputs, through a
// replica.Drain, so that a standby fed by a pipe (hot-backup --follow |
// hot-restore --append) syncs as soon as the pipe has nothing more to
// give. It returns nil when stdin is not among them or not a file.
func stdinDrain(inputs []stream.Input, stdin io.Reader) *replica.Drain {
	f, ok := stdin.(*os.File)
	if !ok {
		return nil
	}
	var d *replica.Drain
	for i := range inputs {
		if inputs[i].Name == stdinName {
			if d == nil {
				d = replica.NewDrain()
			}
			inputs[i].R = d.Reader(f, inputs[i].R)
		}
	}
	return d
}
