package server

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/hotpipe/hotpipe/engine"
	"github.com/hotpipe/hotpipe/internal/exitcode"
	"github.com/hotpipe/hotpipe/replica"
	"github.com/hotpipe/hotpipe/stream"
	"github.com/hotpipe/hotpipe/txframe"
	"github.com/hotpipe/hotpipe/verify"
)

const token = "test-token-0123456789"

// served starts a server with the token over a new data directory holding
// database foo with n transactions of valueSize bytes, and returns it (as
// an httptest server and a Server) and foo.
func served(t *testing.T, n, valueSize int) (*httptest.Server, *Server, *engine.DB) {
	t.Helper()
	dir := t.TempDir()
	db := fooIn(t, dir, n, valueSize)
	s, err := New(Options{DataDir: dir, Token: token, Logf: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(s)
	t.Cleanup(hs.Close)
	return hs, s, db
}

// fooIn creates database foo in dir with n transactions of valueSize
// bytes, and returns it open for write.
func fooIn(t *testing.T, dir string, n, valueSize int) *engine.DB {
	t.Helper()
	if _, err := engine.Create(dir, "foo", engine.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	db, err := engine.Open(dir, "foo", engine.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	commit(t, db, n, valueSize)
	return db
}

func commit(t *testing.T, db *engine.DB, n, valueSize int) {
	t.Helper()
	for i := range n {
		if _, err := db.Commit([]txframe.Entry{{Op: txframe.OpPut, Key: fmt.Appendf(nil, "k%d", i), Value: make([]byte, valueSize)}}); err != nil {
			t.Fatal(err)
		}
	}
}

func get(t *testing.T, url, tok string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

// errorOf decodes an error answer.
func errorOf(t *testing.T, resp *http.Response) ErrorJSON {
	t.Helper()
	var b ErrorBody
	if err := json.NewDecoder(resp.Body).Decode(&b); err != nil {
		t.Fatalf("error answer %d: %v", resp.StatusCode, err)
	}
	return b.Error
}

// restore restores a stream into a new database and returns its state.
func restore(t *testing.T, body io.Reader) (uint64, txframe.Hash, error) {
	t.Helper()
	dir := t.TempDir()
	r := stream.NewReader([]stream.Input{{Name: "answer", R: body}}, stream.Options{})
	if _, err := replica.Restore(context.Background(), dir, "copy", r, replica.Options{}); err != nil {
		return 0, txframe.Hash{}, err
	}
	db, err := engine.Open(dir, "copy", engine.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	return db.State()
}

func TestHealthNeedsNoToken(t *testing.T) {
	hs, _, _ := served(t, 1, 10)
	if resp := get(t, hs.URL+"/health", ""); resp.StatusCode != http.StatusOK {
		t.Errorf("GET /health = %d", resp.StatusCode)
	}
}

// TestTokenRequired: without the token, or with another, every endpoint
// but /health answers 401, saying what it wants, with exit code 1.
func TestTokenRequired(t *testing.T) {
	hs, _, _ := served(t, 1, 10)
	for _, tok := range []string{"", "wrong", token + "x", strings.ToUpper(token)} {
		for _, path := range []string{"/v1/databases/foo/backup", "/v1/nothing", "/metrics"} {
			resp := get(t, hs.URL+path, tok)
			e := errorOf(t, resp)
			if resp.StatusCode != http.StatusUnauthorized || resp.Header.Get("WWW-Authenticate") == "" ||
				e.ExitCode != exitcode.Failure || !strings.Contains(e.Message, "token") {
				t.Errorf("GET %s with token %q = %d %+v", path, tok, resp.StatusCode, e)
			}
		}
	}
}

// TestBackupStreamsADatabase: the answer is the stream hot-backup writes:
// restored, it gives the source's state.
func TestBackupStreamsADatabase(t *testing.T) {
	hs, _, db := served(t, 500, 1000)
	resp := get(t, hs.URL+"/v1/databases/foo/backup", token)
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != StreamType {
		t.Fatalf("answer %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	lsn, hash, err := restore(t, resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	wantLSN, want, _ := db.State()
	if lsn != wantLSN || hash != want {
		t.Errorf("restored %d %x, want %d %x", lsn, hash, wantLSN, want)
	}
	if resp.Trailer.Get(TrailerError) != "" {
		t.Errorf("trailer %q on a whole stream", resp.Trailer.Get(TrailerError))
	}
}

// TestBackupRefuses: a bad name or parameter is a usage error (400, exit
// 2), a missing database 404 with exit 1, before any byte of a stream.
func TestBackupRefuses(t *testing.T) {
	hs, _, _ := served(t, 10, 10)
	for _, c := range []struct {
		path   string
		status int
		code   int
		says   string
	}{
		{"/v1/databases/Foo/backup", 400, exitcode.Usage, "Foo"},
		{"/v1/databases/.x/backup", 400, exitcode.Usage, ".x"},
		{"/v1/databases/bar/backup", 404, exitcode.Failure, "does not exist"},
		{"/v1/databases/foo/backup?start=x", 400, exitcode.Usage, "start"},
		{"/v1/databases/foo/backup?start=3&after=2", 400, exitcode.Usage, "give one"},
		{"/v1/databases/foo/backup?follow=maybe", 400, exitcode.Usage, "follow"},
		{"/v1/databases/foo/backup?follow=true&end=5", 400, exitcode.Usage, "no end"},
		{"/v1/databases/foo/backup?max_rate=10", 400, exitcode.Usage, "max_rate"},
		{"/v1/databases/foo/backup?max_rate=NaN", 400, exitcode.Usage, "max_rate"},
		{"/v1/databases/foo/backup?end-lsn=5", 400, exitcode.Usage, `unknown parameter "end-lsn"`},
		{"/v1/nothing", 404, exitcode.Usage, "no endpoint"},
	} {
		resp := get(t, hs.URL+c.path, token)
		e := errorOf(t, resp)
		if resp.StatusCode != c.status || e.ExitCode != c.code || e.Kind != exitcode.Kind(c.code) || !strings.Contains(e.Message, c.says) {
			t.Errorf("GET %s = %d %+v, want %d, exit %d, saying %q", c.path, resp.StatusCode, e, c.status, c.code, c.says)
		}
	}
}

// TestDrainEndsAFollowWithItsEndRecord: a following backup drained (as on
// SIGTERM) writes its end record: the stream is whole, and holds what was
// committed while it followed.
func TestDrainEndsAFollowWithItsEndRecord(t *testing.T) {
	hs, s, db := served(t, 10, 10)
	resp := get(t, hs.URL+"/v1/databases/foo/backup?follow=true", token)
	body := bufio.NewReader(resp.Body)
	if _, err := body.Peek(1); err != nil { // the backup runs
		t.Fatal(err)
	}
	commit(t, db, 5, 10)
	s.Drain()
	lsn, _, err := restore(t, body)
	if err != nil {
		t.Fatalf("restoring a drained follow: %v", err)
	}
	if lsn < 10 {
		t.Errorf("restored through LSN %d, want at least 10", lsn)
	}
}

// TestDrainStopsAPlainBackupTruncated: a plain backup drained stops at a
// frame boundary without an end record, as on SIGTERM locally, and the
// trailer says it was interrupted (exit 130).
func TestDrainStopsAPlainBackupTruncated(t *testing.T) {
	hs, s, _ := served(t, 200, 64<<10)
	resp := get(t, hs.URL+"/v1/databases/foo/backup?max_rate=1000000", token) // 13 MiB at 1 MB/s
	body := bufio.NewReader(resp.Body)
	if _, err := body.Peek(1); err != nil {
		t.Fatal(err)
	}
	s.Drain()
	_, _, err := restore(t, body)
	if !errors.Is(err, stream.ErrTruncated) {
		t.Fatalf("restoring a drained plain backup: %v, want ErrTruncated", err)
	}
	var e ErrorJSON
	if err := json.Unmarshal([]byte(resp.Trailer.Get(TrailerError)), &e); err != nil || e.ExitCode != exitcode.Interrupted {
		t.Errorf("trailer %q (%v), want exit %d", resp.Trailer.Get(TrailerError), err, exitcode.Interrupted)
	}
}

// running starts a slow backup of foo (1 MB/s) and returns it once its
// first byte has come.
func running(t *testing.T, c *Client) *Stream {
	t.Helper()
	st, err := c.Backup(context.Background(), "foo", BackupRequest{MaxRate: 1e6})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Read(make([]byte, 1)); err != nil {
		t.Fatal(err)
	}
	return st
}

func TestCheckListen(t *testing.T) {
	for _, c := range []struct {
		addr, token string
		ok          bool
	}{
		{"127.0.0.1:9899", "", true},
		{"[::1]:9899", "", true},
		{"localhost:9899", "", true},
		{"127.3.4.5:1", "", true},
		{"0.0.0.0:9899", "", false},
		{":9899", "", false},
		{"10.0.0.1:9899", "", false},
		{"db1.example:9899", "", false},
		{"0.0.0.0:9899", "t", true},
		{"nonsense", "", false},
	} {
		err := CheckListen(c.addr, c.token)
		if (err == nil) != c.ok {
			t.Errorf("CheckListen(%q, %q) = %v", c.addr, c.token, err)
		}
	}
}

// TestClientSaysHowAStreamEnded: a whole stream ends in io.EOF with the
// backup's result; one the server stopped, in the server's error with its
// exit code; one whose connection broke, in stream.ErrTruncated.
func TestClientSaysHowAStreamEnded(t *testing.T) {
	hs, _, _ := served(t, 200, 64<<10)
	c, err := NewClient(hs.URL, ClientOptions{Token: token})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()

	st, err := c.Backup(ctx, "foo", BackupRequest{End: 100})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(io.Discard, st); err != nil {
		t.Fatalf("whole stream: %v", err)
	}
	if r := st.Result(); r.First != 1 || r.Last != 100 || r.Frames != 100 || !r.Ended {
		t.Errorf("result %+v", r)
	}
	st.Close()

	st = running(t, c)
	if err := st.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	_, err = io.Copy(io.Discard, st)
	if exitcode.Of(err) != exitcode.Interrupted {
		t.Errorf("stopped stream: %v (exit %d), want exit %d", err, exitcode.Of(err), exitcode.Interrupted)
	}
	st.Close()

	st = running(t, c)
	hs.CloseClientConnections()
	if _, err = io.Copy(io.Discard, st); !errors.Is(err, stream.ErrTruncated) || exitcode.Of(err) != exitcode.Integrity {
		t.Errorf("broken connection: %v, want ErrTruncated (exit 3)", err)
	}
	st.Close()

	if _, err := c.Backup(ctx, "nope", BackupRequest{}); exitcode.Of(err) != exitcode.Failure || !strings.Contains(err.Error(), "does not exist") {
		t.Errorf("missing database: %v", err)
	}
	if _, err := NewClient("ftp://x", ClientOptions{}); exitcode.Of(err) != exitcode.Usage {
		t.Errorf("NewClient(ftp://x) = %v", err)
	}
}

// TestManyClientsBackUpWhileAWriterCommits: 50 clients stream backups at
// once while the application commits; every stream verifies, from LSN 1
// to at least what was durable when it was asked for, and ends with the
// source's hash there.
func TestManyClientsBackUpWhileAWriterCommits(t *testing.T) {
	hs, s, db := served(t, 200, 1000)
	c, err := NewClient(hs.URL, ClientOptions{Token: token})
	if err != nil {
		t.Fatal(err)
	}
	// The source's hashes are read as the server reads them: through a
	// reader's handle, which may see a durable LSN a moment before the
	// writer's own handle does.
	reader, err := engine.Open(s.opts.DataDir, "foo", engine.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer reader.Close()
	stop := make(chan struct{})
	writerDone := make(chan error, 1)
	go func() {
		for i := 0; ; i++ {
			select {
			case <-stop:
				writerDone <- nil
				return
			default:
			}
			if _, err := db.Commit([]txframe.Entry{{Op: txframe.OpPut, Key: fmt.Appendf(nil, "w%d", i), Value: []byte("v")}}); err != nil {
				writerDone <- err
				return
			}
		}
	}()
	const clients = 50
	errs := make(chan error, clients)
	for range clients {
		go func() { errs <- backUpAndVerify(c, reader) }()
	}
	for range clients {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	close(stop)
	if err := <-writerDone; err != nil {
		t.Fatal(err)
	}
}

// backUpAndVerify streams a backup of foo from c and verifies it against
// db.
func backUpAndVerify(c *Client, db *engine.DB) error {
	durable, _, err := db.State()
	if err != nil {
		return err
	}
	st, err := c.Backup(context.Background(), "foo", BackupRequest{})
	if err != nil {
		return err
	}
	defer st.Close()
	rep, err := verify.Stream(context.Background(), []stream.Input{{Name: "answer", R: st}}, verify.Options{})
	if err != nil {
		return err
	}
	if len(rep.Findings) != 0 || rep.First != 1 || rep.Last < durable {
		return fmt.Errorf("stream LSN %d..%d, %d findings (first %v); want 1..%d or more", rep.First, rep.Last, len(rep.Findings), rep.Findings, durable)
	}
	want, err := db.HashAt(rep.Last)
	if err != nil {
		return err
	}
	if rep.FinalHash != want {
		return fmt.Errorf("stream ends with h(%d) = %x, source's %x", rep.Last, rep.FinalHash, want)
	}
	return nil
}

// TestDatabasesAndStatus: the list and a status, as the local commands
// read them; a missing database is 404 with exit 1, a bad name 400.
func TestDatabasesAndStatus(t *testing.T) {
	hs, s, db := served(t, 7, 10)
	c, err := NewClient(hs.URL, ClientOptions{Token: token})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	d, err := c.Databases(ctx)
	if err != nil || d.DataDir != s.opts.DataDir || len(d.Databases) != 1 || d.Databases[0] != "foo" {
		t.Errorf("Databases = %+v, %v", d, err)
	}
	st, err := c.Status(ctx, "foo")
	if err != nil {
		t.Fatal(err)
	}
	want, err := StatusOf(s.opts.DataDir, "foo", engine.Options{})
	if err != nil {
		t.Fatal(err)
	}
	lsn, h, _ := db.State()
	if st.LastLSN != 7 || lsn != 7 || st.StateHash != h.String() || st.Lock == nil || st.Origin != want.Origin || !st.Created.Equal(want.Created) {
		t.Errorf("Status = %+v, want %+v (a writer holds the lock)", st, want)
	}
	if _, err := c.Status(ctx, "nope"); exitcode.Of(err) != exitcode.Failure || !strings.Contains(err.Error(), "does not exist") {
		t.Errorf("Status(nope) = %v", err)
	}
	resp := get(t, hs.URL+"/v1/databases/Bad", token)
	if e := errorOf(t, resp); resp.StatusCode != 400 || e.ExitCode != exitcode.Usage {
		t.Errorf("GET /v1/databases/Bad = %d %+v", resp.StatusCode, e)
	}
	resp = get(t, hs.URL+"/v1/databases?x=1", token)
	if e := errorOf(t, resp); resp.StatusCode != 400 || !strings.Contains(e.Message, `unknown parameter "x"`) {
		t.Errorf("GET /v1/databases?x=1 = %d %+v", resp.StatusCode, e)
	}
}

// TestHash: h at the last LSN, at a given one, at 0 (zero); an LSN past
// the end is an error, a malformed one a usage error.
func TestHash(t *testing.T) {
	hs, _, db := served(t, 5, 10)
	c, err := NewClient(hs.URL, ClientOptions{Token: token})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	lsn, last, _ := db.State()
	h3, _ := db.HashAt(3)
	for _, want := range []Hash{{"foo", lsn, last.String()}, {"foo", 3, h3.String()}, {"foo", 0, txframe.Hash{}.String()}} {
		at := want.LSN
		if at == lsn {
			at = Last
		}
		if got, err := c.Hash(ctx, "foo", at); err != nil || got != want {
			t.Errorf("Hash(%d) = %+v, %v; want %+v", at, got, err, want)
		}
	}
	if _, err := c.Hash(ctx, "foo", 6); err == nil || !strings.Contains(err.Error(), "out of range") {
		t.Errorf("Hash(6) = %v", err)
	}
	resp := get(t, hs.URL+"/v1/databases/foo/hash?lsn=x", token)
	if e := errorOf(t, resp); resp.StatusCode != 400 || e.ExitCode != exitcode.Usage {
		t.Errorf("GET hash?lsn=x = %d %+v", resp.StatusCode, e)
	}
}

// TestMetrics: /metrics, in Prometheus's text format, has each database's
// last LSN and commit time, and counts streams, frames, bytes and error
// answers; every sample has its HELP and TYPE.
func TestMetrics(t *testing.T) {
	hs, _, _ := served(t, 5, 10)
	resp := get(t, hs.URL+"/v1/databases/foo/backup", token)
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		t.Fatal(err)
	}
	get(t, hs.URL+"/v1/databases/nope", token) // an error answer
	resp = get(t, hs.URL+"/metrics", token)
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain; version=0.0.4") {
		t.Fatalf("GET /metrics = %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	samples := scrape(t, resp.Body)
	for name, want := range map[string]float64{
		`hotpipe_db_last_lsn{db="foo"}`:       5,
		`hotpipe_server_streams`:              0,
		`hotpipe_server_stream_frames_total`:  5,
		`hotpipe_server_failed_streams_total`: 0,
	} {
		if got, ok := samples[name]; !ok || got != want {
			t.Errorf("%s = %v (present %v), want %v", name, got, ok, want)
		}
	}
	if samples["hotpipe_server_error_answers_total"] < 1 || samples["hotpipe_server_stream_bytes_total"] <= 0 ||
		samples[`hotpipe_db_last_commit_timestamp_seconds{db="foo"}`] <= 0 ||
		samples[`hotpipe_last_backup_success_timestamp_seconds{db="foo"}`] <= 0 { // the stream ended with its end record
		t.Errorf("samples %v", samples)
	}
}

// scrape parses Prometheus's text format: every sample line's value by
// name and labels; each name must have had its HELP and TYPE first.
func scrape(t *testing.T, r io.Reader) map[string]float64 {
	t.Helper()
	samples := map[string]float64{}
	described := map[string]int{}
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := sc.Text()
		if f := strings.Fields(line); len(f) >= 3 && f[0] == "#" {
			described[f[2]]++
			continue
		}
		key, value, ok := strings.Cut(line, " ")
		name, _, _ := strings.Cut(key, "{")
		var v float64
		if _, err := fmt.Sscan(value, &v); !ok || err != nil {
			t.Fatalf("malformed sample %q", line)
		}
		if described[name] != 2 {
			t.Errorf("%s without its HELP and TYPE", name)
		}
		if _, dup := samples[key]; dup {
			t.Errorf("%s twice", key)
		}
		samples[key] = v
	}
	return samples
}

// TestMetricsCountWholeBackupsOnly: a stream of a database's tail (what a
// standby asks for) is no backup of it: it sets no last successful backup.
func TestMetricsCountWholeBackupsOnly(t *testing.T) {
	hs, _, _ := served(t, 5, 10)
	resp := get(t, hs.URL+"/v1/databases/foo/backup?after=2", token)
	if _, err := io.Copy(io.Discard, resp.Body); err != nil || resp.Trailer.Get(TrailerResult) == "" {
		t.Fatalf("the tail stream: %v, trailer %q", err, resp.Trailer.Get(TrailerResult))
	}
	samples := scrape(t, get(t, hs.URL+"/metrics", token).Body)
	if v, ok := samples[`hotpipe_last_backup_success_timestamp_seconds{db="foo"}`]; ok {
		t.Errorf("a tail stream set the last successful backup to %v", v)
	}
}
