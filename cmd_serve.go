package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/hotpipe/hotpipe/server"
)

func serveCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:  "serve",
		Usage: "serve the admin API over HTTP: remote backups and restores",
		Description: `Serves the databases of the data directory over HTTP, for hotpipe
commands run elsewhere with --addr, and for curl. Backups run as
lock-free readers: the application keeps writing.

Every request but GET /health needs the token, as "Authorization: Bearer
TOKEN": from --token-file (its first line) or $HOTPIPE_TOKEN. Without a
token, serve listens on loopback only, and refuses any other address:
whoever reaches the port could read every database. With --tls-cert and
--tls-key it speaks HTTPS; --tls-client-ca also asks every client for a
certificate signed by that CA.

Jobs (hotpipe job) write only where serve allows: files into --backup-dir
(named by plain file names) and objects into the --repo repository (else
$HOTPIPE_REPO); a job into a target serve was not given is refused.

SIGINT or SIGTERM ends running streams as they end locally (a following
backup with its end record, a plain one at a frame boundary), interrupts
running jobs, waits for both up to --shutdown-timeout, and exits 0.

Endpoints (docs/API.md):
   GET /health                               200 while serving; no token
   GET /metrics                              Prometheus text format
   GET /v1/databases                         db list
   GET /v1/databases/DB                      db status
   GET /v1/databases/DB/hash?lsn=N           db hash
   GET /v1/databases/DB/backup?start=N|after=N&end=N&follow=true&max_rate=B
                                             the stream hot-backup writes
   POST /v1/databases/DB/restore?append=true&force_replica=true&target_lsn=N|target_time=T&if_not_exists=true
                                             hot-restore of the body (a stream)
   GET /v1/databases/DB/check                db check
   GET /v1/streams                           the running backups, restores and checks
   POST /v1/streams/ID/stop                  end a stream as SIGINT would
   POST /v1/jobs                             start a backup or archive job (job start)
   GET /v1/jobs, GET /v1/jobs/ID             list jobs, a job's state and progress
   POST /v1/jobs/ID/abort                    abort a job
   GET /v1/files, GET /v1/files/NAME/verify  the --backup-dir's files; verify --addr

Examples:
   hotpipe serve                                      # 127.0.0.1:9899, no token
   HOTPIPE_TOKEN=$(cat /etc/hotpipe/token) hotpipe serve --listen :9899 \
     --tls-cert /etc/hotpipe/cert.pem --tls-key /etc/hotpipe/key.pem
   curl -H "Authorization: Bearer $TOKEN" http://127.0.0.1:9899/v1/databases/foo/backup > foo.backup`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "listen", Value: "127.0.0.1:9899", Usage: "listen on `HOST:PORT` (port 0: any free port)"},
			&cli.StringFlag{Name: "token-file", Usage: "the bearer token is the first line of `FILE` (else $HOTPIPE_TOKEN)"},
			&cli.StringFlag{Name: "tls-cert", Usage: "serve HTTPS with the certificate in `FILE` (PEM; needs --tls-key)"},
			&cli.StringFlag{Name: "tls-key", Usage: "the certificate's private key in `FILE` (PEM)"},
			&cli.StringFlag{Name: "tls-client-ca", Usage: "ask every client for a certificate signed by the CA in `FILE` (PEM)"},
			&cli.DurationFlag{Name: "shutdown-timeout", Value: 30 * time.Second, Usage: "on SIGTERM, wait this long for running streams to end"},
			&cli.StringFlag{Name: "listen-file", Usage: "once listening, write the server's URL to `FILE` (for scripts, with port 0)"},
			&cli.StringFlag{Name: "backup-dir", Usage: "jobs write backup files into `DIR`, and verify --addr reads them there (nowhere else)"},
			repoFlag(),
		},
		Action: e.serve,
	}
}

func (e *env) serve(c *cli.Context) error {
	if err := args(c, 0, 0); err != nil {
		return err
	}
	token, err := serveToken(c.String("token-file"))
	if err != nil {
		return err
	}
	addr := c.String("listen")
	if err := server.CheckListen(addr, token); err != nil {
		return usagef("serve: %v", err)
	}
	tlsConf, err := serveTLS(c)
	if err != nil {
		return err
	}
	opts := server.Options{DataDir: e.dataDir, Token: token, Logf: func(format string, args ...any) { e.warnf(format, args...) }}
	if err := e.serveTargets(c, &opts); err != nil {
		return err
	}
	srv, err := server.New(opts)
	if err != nil {
		return err
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	scheme := "http"
	if tlsConf != nil {
		l, scheme = tls.NewListener(l, tlsConf), "https"
	}
	url := scheme + "://" + l.Addr().String()
	if f := c.String("listen-file"); f != "" {
		if err := writeAtomically(f, []byte(url+"\n")); err != nil {
			l.Close()
			return fmt.Errorf("serve: --listen-file: %w", err)
		}
	}
	e.notef("serve: %s on %s", e.dataDir, url)
	// IdleTimeout closes a kept-alive connection that sends no next
	// request: without it any client, token or not, could hold
	// connections open until the server ran out of descriptors.
	hs := &http.Server{Handler: srv, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: time.Minute, MaxHeaderBytes: 64 << 10}
	done := make(chan error, 1)
	go func() { done <- hs.Serve(l) }()
	select {
	case err := <-done:
		return fmt.Errorf("serve: %w", err)
	case <-e.stop.graceful():
	}
	srv.Drain()
	ctx, cancel := context.WithTimeout(context.WithoutCancel(c.Context), c.Duration("shutdown-timeout"))
	defer cancel()
	serr := hs.Shutdown(ctx)
	werr := srv.Wait(ctx) // also after a timeout: aborted jobs settle their files
	if serr != nil {
		serr = fmt.Errorf("serve: streams still running after --shutdown-timeout %s: %w", c.Duration("shutdown-timeout"), serr)
	}
	if werr != nil {
		werr = fmt.Errorf("serve: %v after --shutdown-timeout %s", werr, c.Duration("shutdown-timeout"))
	}
	if err := errors.Join(serr, werr); err != nil {
		return err
	}
	e.notef("serve: stopped")
	return nil
}

// serveToken reads the token from file, else $HOTPIPE_TOKEN.
func serveToken(file string) (string, error) {
	if file == "" {
		return strings.TrimSpace(os.Getenv("HOTPIPE_TOKEN")), nil
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return "", fmt.Errorf("serve: --token-file: %w", err)
	}
	token, _, _ := strings.Cut(string(b), "\n")
	if token = strings.TrimSpace(token); token == "" {
		return "", usagef("serve: --token-file %s: the first line is empty", file)
	}
	return token, nil
}

// serveTLS makes the TLS configuration of --tls-cert, --tls-key and
// --tls-client-ca; nil without a certificate.
func serveTLS(c *cli.Context) (*tls.Config, error) {
	certFile, keyFile, caFile := c.String("tls-cert"), c.String("tls-key"), c.String("tls-client-ca")
	switch {
	case certFile == "" && keyFile == "" && caFile == "":
		return nil, nil
	case certFile == "" || keyFile == "":
		return nil, usagef("serve: --tls-cert and --tls-key go together")
	}
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("serve: --tls-cert/--tls-key: %w", err)
	}
	conf := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	if caFile != "" {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return nil, fmt.Errorf("serve: --tls-client-ca: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, errors.New("serve: --tls-client-ca: no PEM certificate in " + caFile)
		}
		conf.ClientCAs, conf.ClientAuth = pool, tls.RequireAndVerifyClientCert
	}
	return conf, nil
}
