package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"time"

	"filippo.io/age"
	"github.com/urfave/cli/v2"
)

func keyCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:            "key",
		Usage:           "make age key pairs for encrypted backups",
		HideHelpCommand: true,
		Action:          groupAction(e, "key"),
		Subcommands:     []*cli.Command{keyGenerateCommand(e)},
	}
}

func keyGenerateCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:  "generate",
		Usage: "make an age X25519 key pair: the identity (secret) in a file, the public key on stdout",
		Description: `Makes an age X25519 key pair. With -o FILE the identity file (secret:
mode 0600, an existing FILE refused, fsynced) is written to FILE and the
public key (age1...) to stdout; without -o the identity file goes to
stdout and the public key to stderr, as age-keygen does. The file is the
age format, which age, age-keygen -y and rage read too; age-keygen makes
the same keys, and either will do.

Give the public key to hot-backup --recipient (or a line of
--recipients-file) on the hosts that make backups; keep the identity
only where backups are restored.

Examples:
   hotpipe key generate -o backup.key > backup.pub
   hotpipe hot-backup foo -o foo.backup.age --recipients-file backup.pub`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "write the identity to `FILE` (created with mode 0600; an existing one is refused)"},
		},
		Action: e.keyGenerate,
	}
}

func (e *env) keyGenerate(c *cli.Context) error {
	if err := args(c, 0, 0); err != nil {
		return err
	}
	id, err := age.GenerateX25519Identity()
	if err != nil {
		return err
	}
	pub := id.Recipient().String()
	text := fmt.Sprintf("# created: %s\n# public key: %s\n%s\n", time.Now().UTC().Format(time.RFC3339), pub, id)
	path := c.String("output")
	if path == "" || path == "-" {
		if _, err := io.WriteString(e.stdout, text); err != nil {
			return err
		}
		fmt.Fprintf(e.stderr, "Public key: %s\n", pub)
		return nil
	}
	if err := writeKeyFile(path, text); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return reword(err, "key generate: %s already exists: refusing to overwrite a key (it may be the only copy of one)", path)
		}
		return fmt.Errorf("key generate: %w", err)
	}
	_, err = fmt.Fprintln(e.stdout, pub)
	return err
}

// writeKeyFile creates path, readable by its owner only, holding text,
// durably (the file, then its directory's entry); an existing path is
// refused with an error that is fs.ErrExist. A file it could not finish
// is removed.
func writeKeyFile(path, text string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	_, werr := io.WriteString(f, text)
	if err := errors.Join(werr, f.Sync(), f.Close()); err != nil {
		os.Remove(path)
		return err
	}
	return syncDirOf(path)
}

// syncDirOf makes the directory entry of path durable, where the system
// can (Windows cannot fsync a directory, and needs not).
func syncDirOf(path string) error {
	if runtime.GOOS == "windows" {
		return nil
	}
	d, err := os.Open(filepath.Dir(path))
	if err != nil {
		return err
	}
	return errors.Join(d.Sync(), d.Close())
}
