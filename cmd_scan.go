package main

import (
	"bufio"

	"github.com/urfave/cli/v2"
)

func scanCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:      "scan",
		Usage:     "print the live keys with a prefix, in key order",
		ArgsUsage: "DB [PREFIX]",
		Description: `Prints key=value, one per line, for every live key starting with PREFIX
(all keys when it is omitted), as of the last durable LSN. Takes no lock.

Examples:
   hotpipe scan foo
   hotpipe scan foo user: --keys-only`,
		Flags:  []cli.Flag{&cli.BoolFlag{Name: "keys-only", Usage: "print keys without values"}},
		Action: e.scan,
	}
}

func (e *env) scan(c *cli.Context) error {
	if err := args(c, 1, 2); err != nil {
		return err
	}
	db, err := e.open(c.Args().Get(0), true)
	if err != nil {
		return err
	}
	defer db.Close()
	w := bufio.NewWriter(e.stdout)
	keysOnly := c.Bool("keys-only")
	err = db.Scan([]byte(c.Args().Get(1)), func(k, v []byte) error {
		w.Write(k)
		if !keysOnly {
			w.WriteByte('=')
			w.Write(v)
		}
		return w.WriteByte('\n')
	})
	if err != nil {
		return err
	}
	return w.Flush()
}
