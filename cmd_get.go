package main

import (
	"github.com/urfave/cli/v2"
)

func getCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:      "get",
		Usage:     "print a key's latest value",
		ArgsUsage: "DB KEY",
		Description: `Prints the value of KEY as of the last durable LSN, followed by a newline
(none with --raw). A missing or deleted key is an error (exit 1). Takes no
lock: works while a writer commits.

Examples:
   hotpipe get foo user:1
   hotpipe get foo blob --raw > blob.bin`,
		Flags:  []cli.Flag{&cli.BoolFlag{Name: "raw", Usage: "print the value's bytes exactly, without a newline"}},
		Action: e.get,
	}
}

func (e *env) get(c *cli.Context) error {
	if err := args(c, 2, 2); err != nil {
		return err
	}
	db, err := e.open(c.Args().Get(0), true)
	if err != nil {
		return err
	}
	defer db.Close()
	v, err := db.Get([]byte(c.Args().Get(1)))
	if err != nil {
		return err
	}
	if !c.Bool("raw") {
		v = append(v, '\n')
	}
	_, err = e.stdout.Write(v)
	return err
}
