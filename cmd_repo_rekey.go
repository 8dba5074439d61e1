package main

import (
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/hotpipe/hotpipe/repo"
)

func repoRekeyCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:      "rekey",
		Usage:     "re-encrypt a repository's encrypted objects to new recipients, without a restore",
		ArgsUsage: "[DB]",
		Description: `Key rotation: each encrypted object's file key is unwrapped with
--identity (an old key) and wrapped anew for --recipient and
--recipients-file (the new keys), in a new header; the frames are not
decrypted, the payload is copied as it is, into a copy named with the
next generation (.k1, .k2, ...). The copy is read back whole and
authenticated before the old object is deleted, so the frames are held at
every moment, and a copy that does not verify is deleted, the old object
kept. An interrupted rekey is finished by the next, given the old or the
new identity.

Objects none of the identities opens (written to other recipients, the
new ones already, say) are left as they are and counted; when it opens
none at all, rekey exits 3. Plain objects stay plain: rekey changes keys,
it does not encrypt. Point archive and backups at the new recipients
first, so that no object is written to the old ones after rekey has run.

Examples:
   hotpipe repo rekey --repo s3://backups/hotpipe --identity old.key -R new.pub
   hotpipe repo rekey foo --repo /backup/hotpipe --identity old.key -r age1... --dry-run`,
		Flags: append([]cli.Flag{repoFlag(), jsonFlag(), identityFlag(),
			&cli.BoolFlag{Name: "dry-run", Usage: "list the encrypted objects, and change nothing"},
		}, recipientFlags("the objects")...),
		Action: e.repoRekey,
	}
}

// repoRekeyReport is what repo rekey --json prints.
type repoRekeyReport struct {
	head
	Repo     string      `json:"repo"`
	DryRun   bool        `json:"dry_run"`
	Rekeyed  []rekeyJSON `json:"rekeyed"`
	Unopened []string    `json:"unopened"`
	Plain    int         `json:"plain_objects"`
}

type rekeyJSON struct {
	Object   string   `json:"object"`
	Replaced []string `json:"replaced"`
	Bytes    int64    `json:"bytes"`
}

func (e *env) repoRekey(c *cli.Context) error {
	if err := args(c, 0, 1); err != nil {
		return err
	}
	ids, err := identities(c)
	if err != nil {
		return err
	}
	to, err := recipients(c, "repo rekey")
	if err != nil {
		return err
	}
	if len(to) == 0 {
		return usagef("repo rekey: give the new keys with --recipient KEY or --recipients-file FILE")
	}
	r, err := e.openRepo(c)
	if err != nil {
		return err
	}
	dry := c.Bool("dry-run")
	rep := &repoRekeyReport{Repo: r.String(), DryRun: dry, Rekeyed: []rekeyJSON{}, Unopened: []string{}}
	e.report = rep
	opts := repo.RekeyOptions{Identities: ids, Recipients: to, DryRun: dry, Rekeyed: func(rk repo.Rekeyed) {
		rj := rekeyJSON{Object: rk.Into.Key, Bytes: rk.Into.Size}
		for _, f := range rk.From {
			rj.Replaced = append(rj.Replaced, f.Key)
		}
		rep.Rekeyed = append(rep.Rekeyed, rj)
		if !e.asJSON {
			printRekeyed(e, rk, dry)
		}
	}}
	res, err := r.Rekey(c.Context, c.Args().First(), opts)
	for _, u := range res.Unopened {
		rep.Unopened = append(rep.Unopened, u.Key)
	}
	rep.Plain = res.Plain
	if err != nil {
		return err
	}
	verb := "re-encrypted"
	if dry {
		verb = "to re-encrypt"
	}
	e.notef("repo rekey: %d object(s) %s, %d left as they are (no identity given opens them), %d plain", len(res.Rekeyed), verb, len(res.Unopened), res.Plain)
	return nil
}

func printRekeyed(e *env, rk repo.Rekeyed, dry bool) {
	switch {
	case dry:
		fmt.Fprintf(e.stdout, "would re-encrypt %s\n", rk.From[len(rk.From)-1].Key)
	case rk.Made:
		fmt.Fprintf(e.stdout, "%s was re-encrypted already: deleted %d older copies\n", rk.Into.Key, len(rk.From))
	default:
		fmt.Fprintf(e.stdout, "re-encrypted %s as %s\n", rk.From[len(rk.From)-1].Key, rk.Into.Key)
	}
}
