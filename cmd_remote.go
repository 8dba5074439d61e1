package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"os"
	"syscall"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/hotpipe/hotpipe/backup"
	"github.com/hotpipe/hotpipe/engine"
	"github.com/hotpipe/hotpipe/server"
)

// addrFlag is --addr: run the command against a hotpipe server.
func addrFlag() cli.Flag {
	return &cli.StringFlag{Name: "addr", EnvVars: []string{"HOTPIPE_ADDR"},
		Usage: "run against the hotpipe server at `HOST:PORT` (or an http(s):// URL; see hotpipe serve), with the token in $HOTPIPE_TOKEN (HTTPS: $HOTPIPE_CACERT, $HOTPIPE_CLIENT_CERT, $HOTPIPE_CLIENT_KEY)"}
}

// client returns a client of the server --addr names, with the token in
// $HOTPIPE_TOKEN; over HTTPS it trusts the CAs in $HOTPIPE_CACERT (else
// the system's) and presents the certificate in $HOTPIPE_CLIENT_CERT (its
// key in $HOTPIPE_CLIENT_KEY), if set.
func (e *env) client(c *cli.Context) (*server.Client, error) {
	conf, err := clientTLS()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", commandPath(c), err)
	}
	cl, err := server.NewClient(c.String("addr"), server.ClientOptions{Token: os.Getenv("HOTPIPE_TOKEN"), TLS: conf})
	if err != nil {
		return nil, usagef("%s: --addr: %v", commandPath(c), err)
	}
	return cl, nil
}

// clientTLS is the TLS configuration of $HOTPIPE_CACERT,
// $HOTPIPE_CLIENT_CERT and $HOTPIPE_CLIENT_KEY; nil when none is set.
func clientTLS() (*tls.Config, error) {
	ca, cert, key := os.Getenv("HOTPIPE_CACERT"), os.Getenv("HOTPIPE_CLIENT_CERT"), os.Getenv("HOTPIPE_CLIENT_KEY")
	if ca == "" && cert == "" && key == "" {
		return nil, nil
	}
	conf := &tls.Config{MinVersion: tls.VersionTLS12}
	if ca != "" {
		pem, err := os.ReadFile(ca)
		if err != nil {
			return nil, fmt.Errorf("HOTPIPE_CACERT: %w", err)
		}
		conf.RootCAs = x509.NewCertPool()
		if !conf.RootCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("HOTPIPE_CACERT: no PEM certificate in %s", ca)
		}
	}
	if cert != "" || key != "" {
		pair, err := tls.LoadX509KeyPair(cert, key)
		if err != nil {
			return nil, fmt.Errorf("HOTPIPE_CLIENT_CERT/HOTPIPE_CLIENT_KEY: %w", err)
		}
		conf.Certificates = []tls.Certificate{pair}
	}
	return conf, nil
}

// remoteBackup is hot-backup --addr: the server streams, and the stream
// goes to stdout as the local backup's would, with the same report. The
// first SIGINT or SIGTERM asks the server to end the stream as the signal
// ends the local backup: a following one with its end record (exit 0), a
// plain one at a frame boundary without one (exit 130); a second one
// drops the connection (exit 130).
func (e *env) remoteBackup(c *cli.Context, opts backup.Options) error {
	db := c.Args().First()
	if err := engine.ValidateName(db); err != nil {
		return err
	}
	cl, err := e.client(c)
	if err != nil {
		return err
	}
	if out := c.String("output"); out != "" && out != "-" {
		return e.remoteFile(c, cl, db, out, opts)
	}
	if err := checkRemoteRecipients(db, opts.Recipients); err != nil {
		return err
	}
	graceful := e.stop.graceful() // the first signal asks the server to stop, at a frame boundary
	st, err := cl.Backup(c.Context, db, server.BackupRequest{Start: opts.Start, End: opts.End, Follow: opts.Follow, MaxRate: opts.MaxRate})
	if err != nil {
		return backupError(err, db, "")
	}
	defer st.Close()
	out, seal, err := sealedOutput(e.stdout, opts.Recipients)
	if err != nil {
		return err
	}
	copied := make(chan struct{})
	defer close(copied)
	go func() {
		select {
		case <-graceful:
			if err := st.Stop(context.WithoutCancel(c.Context)); err != nil {
				e.warnf("hot-backup %s: stopping the server's stream: %v", db, err)
			}
		case <-c.Context.Done():
		case <-copied:
		}
	}()
	prog := e.newProgress("hot-backup", db, max(opts.Start, 1), 0)
	_, err = copyStream(out, st)
	if err == nil {
		err = seal() // the stream ended whole: only then is an encrypted one sealed
	}
	r := st.Result()
	res := backup.Result{First: r.First, End: r.End, Last: r.Last, LastTime: r.LastTime, Frames: r.Frames, Bytes: r.Bytes, Ended: r.Ended}
	prog.add(res.Frames, int(res.Bytes), res.Last, res.LastTime)
	if e.asJSON {
		e.report = backupJSONOf(db, "", res, time.Since(prog.start))
	}
	switch {
	case errors.Is(err, syscall.EPIPE):
		return errBrokenPipe
	case err != nil && c.Context.Err() != nil:
		return context.Cause(c.Context)
	case err != nil:
		return backupError(err, db, "")
	}
	e.backupDone(db, "", res, prog)
	return nil
}

// copyStream copies a stream from a server through a 1 MiB buffer. With
// io.Copy's 32 KiB (which an *os.File's ReadFrom also uses) each read woke
// for the few KiB the socket held: remote backups into a pipe took 1.7×
// the time of 1 MiB reads (make bench's remote case). A server.Stream
// copies itself (WriteTo), splicing into a pipe where it can.
func copyStream(w io.Writer, r io.Reader) (int64, error) {
	if wt, ok := r.(io.WriterTo); ok {
		return wt.WriteTo(w)
	}
	return io.CopyBuffer(struct{ io.Writer }{w}, r, make([]byte, 1<<20)) // the struct hides ReadFrom
}
