package main

import (
	"fmt"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/hotpipe/hotpipe/txframe"
)

func putCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:      "put",
		Usage:     "commit one transaction of puts (and deletes)",
		ArgsUsage: "DB key=value...",
		Description: `Commits all the given entries as one transaction and prints its LSN on
stdout once it is durable. A key is everything before the first '='.

Examples:
   hotpipe put foo user:1=alice user:2=bob
   hotpipe put foo user:3=carol --delete user:1
   hotpipe put foo user:4=dave --json`,
		Flags: []cli.Flag{
			jsonFlag(),
			&cli.StringSliceFlag{Name: "delete", Aliases: []string{"d"}, Usage: "delete `KEY` in the same transaction (repeatable)"},
		},
		Action: e.put,
	}
}

func (e *env) put(c *cli.Context) error {
	deletes := c.StringSlice("delete")
	if c.NArg() < 1 || c.NArg() < 2 && len(deletes) == 0 {
		return usagef("put: expects DB and at least one key=value or --delete KEY")
	}
	var entries []txframe.Entry
	for _, kv := range c.Args().Slice()[1:] {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return usagef("put: %q is not key=value", kv)
		}
		entries = append(entries, txframe.Entry{Op: txframe.OpPut, Key: []byte(k), Value: []byte(v)})
	}
	for _, k := range deletes {
		entries = append(entries, txframe.Entry{Op: txframe.OpDelete, Key: []byte(k)})
	}
	if _, err := txframe.EncodedLen(entries); err != nil {
		return usagef("put: %v", err)
	}
	db, err := e.open(c.Args().First(), false)
	if err != nil {
		return err
	}
	defer db.Close()
	lsn, err := db.Commit(entries)
	if err != nil {
		return err
	}
	if err := db.Close(); err != nil {
		return err
	}
	if e.asJSON {
		e.report = &putReport{DB: c.Args().First(), LSN: lsn}
		return nil
	}
	fmt.Fprintln(e.stdout, lsn)
	return nil
}

// putReport is what put --json prints: the LSN of the transaction, durable.
type putReport struct {
	head
	DB  string `json:"db"`
	LSN uint64 `json:"lsn"`
}
