package main

import (
	"bytes"
	"io"
	"os"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/hotpipe/hotpipe/stream"
)

// maxJobRecipientsFile bounds the recipients file job start reads: its
// keys travel in the job request, which the server takes up to 64 KiB of.
const maxJobRecipientsFile = 64 << 10

// jobRecipients reads job start's --recipient and --recipients-file (the
// flags of hot-backup, recipientFlags) into the public keys the job
// request carries. Each is parsed here as hot-backup parses it, so that a
// bad one is refused with hot-backup's words (a usage error naming the
// flag, the file and the line) before the server is asked; the server
// parses them again.
func jobRecipients(c *cli.Context) ([]string, error) {
	var keys []string
	for _, s := range c.StringSlice("recipient") {
		if _, err := stream.ParseRecipient(s, "--recipient"); err != nil {
			return nil, usagef("job start: %v", err)
		}
		keys = append(keys, strings.TrimSpace(s))
	}
	path := c.String("recipients-file")
	if path == "" {
		return keys, nil
	}
	b, err := readJobRecipientsFile(path)
	if err != nil {
		return nil, err
	}
	if _, err := stream.ParseRecipients(bytes.NewReader(b), path); err != nil {
		return nil, usagef("job start: --recipients-file: %v", err)
	}
	for _, line := range strings.Split(string(b), "\n") { // the lines ParseRecipients took
		if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, "#") {
			keys = append(keys, line)
		}
	}
	return keys, nil
}

// readJobRecipientsFile reads a recipients file of at most
// maxJobRecipientsFile bytes.
func readJobRecipientsFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, usagef("job start: --recipients-file: %v", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxJobRecipientsFile+1))
	if err != nil {
		return nil, usagef("job start: --recipients-file: %v", err)
	}
	if len(b) > maxJobRecipientsFile {
		return nil, usagef("job start: --recipients-file: %s is larger than %d KiB, more than a job request carries", path, maxJobRecipientsFile>>10)
	}
	return b, nil
}
