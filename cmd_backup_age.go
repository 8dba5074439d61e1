package main

import (
	"errors"
	"os"

	"filippo.io/age"
	"github.com/urfave/cli/v2"

	"github.com/hotpipe/hotpipe/backup"
	"github.com/hotpipe/hotpipe/stream"
)

// recipientFlags are the encryption flags of a command that writes
// backups; what says what they encrypt ("the backup").
func recipientFlags(what string) []cli.Flag {
	return []cli.Flag{
		&cli.StringSliceFlag{Name: "recipient", Aliases: []string{"r"},
			Usage: "encrypt " + what + " with age to public `KEY` (age1..., ssh-ed25519 ..., ssh-rsa ...); repeatable"},
		&cli.StringFlag{Name: "recipients-file", Aliases: []string{"R"}, EnvVars: []string{"HOTPIPE_RECIPIENTS_FILE"},
			Usage: "encrypt " + what + " with age to each public key in `FILE` (one a line, # comments, as age -R reads it)"},
	}
}

// backupRecipients parses hot-backup's --recipient and --recipients-file
// (nil when neither is given) and refuses the flags they cannot go with,
// saying why and what to do instead.
func (e *env) backupRecipients(c *cli.Context) ([]age.Recipient, error) {
	rs, err := recipients(c, "hot-backup")
	if err != nil || len(rs) == 0 {
		return nil, err
	}
	return rs, encryptedBackupFlags(c)
}

// recipients parses the --recipient and --recipients-file of command cmd:
// nil when neither is given; a key or file that does not parse is a usage
// error naming it (and the line).
func recipients(c *cli.Context, cmd string) ([]age.Recipient, error) {
	var rs []age.Recipient
	for _, s := range c.StringSlice("recipient") {
		r, err := stream.ParseRecipient(s, "--recipient")
		if err != nil {
			return nil, usagef("%s: %v", cmd, err)
		}
		rs = append(rs, r)
	}
	if path := c.String("recipients-file"); path != "" {
		f, err := os.Open(path)
		if err != nil {
			return nil, usagef("%s: --recipients-file: %v", cmd, err)
		}
		defer f.Close()
		fr, err := stream.ParseRecipients(f, path)
		if err != nil {
			return nil, usagef("%s: --recipients-file: %v", cmd, err)
		}
		rs = append(rs, fr...)
	}
	return rs, nil
}

// encryptedBackupFlags refuses what an encrypted backup cannot do.
func encryptedBackupFlags(c *cli.Context) error {
	from := ""
	if !c.IsSet("recipient") && os.Getenv("HOTPIPE_RECIPIENTS_FILE") != "" {
		from = " (from HOTPIPE_RECIPIENTS_FILE)"
	}
	switch {
	case c.Bool("append"):
		return usagef("hot-backup: --append cannot add to an encrypted backup%s: age seals a file's last chunk, which only a private key could reopen; "+
			"back up what is new into a new file: --after LAST -o NEWFILE, LAST being the last LSN the earlier backup reported", from)
	case c.Bool("follow"):
		return usagef("hot-backup: --follow cannot be encrypted%s: age seals 64 KiB chunks, so an idle database would leave up to 64 KiB of commits unsent; "+
			"follow through an encrypted transport (ssh), or take encrypted increments with --after", from)
	}
	return nil
}

// encryptedBackupError words the errors of an encrypted backup, or of an
// --append to an encrypted file; nil for any other error.
func encryptedBackupError(err error, db, file string) error {
	var fe *backup.FileError
	switch {
	case errors.Is(err, backup.ErrEncrypted) && !errors.Is(err, backup.ErrOptions):
		return usagef("hot-backup: %s is encrypted (age): --append cannot add to it, since age seals a file's last chunk, which only a private key could reopen; "+
			"back up what is new into a new file: hotpipe hot-backup %s --after LAST -o NEWFILE --recipient KEY, LAST being the last LSN %s holds", file, db, file)
	case errors.As(err, &fe) && fe.Encrypted:
		return err // its own words: not resumable
	}
	return nil
}
