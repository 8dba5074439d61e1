package server

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hotpipe/hotpipe/backup"
	"github.com/hotpipe/hotpipe/engine"
	"github.com/hotpipe/hotpipe/internal/exitcode"
	"github.com/hotpipe/hotpipe/replica"
	"github.com/hotpipe/hotpipe/stream"
)

// backupOf is foo's stream, LSN 1 to its last.
func backupOf(t *testing.T, db *engine.DB) []byte {
	t.Helper()
	var buf bytes.Buffer
	if _, err := backup.Backup(context.Background(), db, &buf, backup.Options{}); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func client(t *testing.T, hs *httptest.Server) *Client {
	t.Helper()
	c, err := NewClient(hs.URL, ClientOptions{Token: token})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// stateOf is the state of database name in dir; LSN 0 when it is absent.
func stateOf(t *testing.T, dir, name string) (uint64, string) {
	t.Helper()
	db, err := engine.Open(dir, name, engine.Options{ReadOnly: true})
	if errors.Is(err, engine.ErrNotFound) {
		return 0, ""
	}
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	lsn, h, err := db.State()
	if err != nil {
		t.Fatal(err)
	}
	return lsn, h.String()
}

// TestRemoteRestoreEqualsLocal: a stream restored through the server ends
// in the state a local restore of it gives, reported as hot-restore
// reports it.
func TestRemoteRestoreEqualsLocal(t *testing.T) {
	hs, s, foo := served(t, 300, 100)
	full := backupOf(t, foo)
	res, err := client(t, hs).Restore(context.Background(), "bar", bytes.NewReader(full), RestoreRequest{Input: "foo.backup"})
	if err != nil {
		t.Fatal(err)
	}
	lsn, h, err := restore(t, bytes.NewReader(full))
	if err != nil {
		t.Fatal(err)
	}
	if res.State == nil || res.State.LSN != lsn || res.State.Hash != h.String() || !res.Full || res.First != 1 ||
		res.Frames != 300 || res.StreamLast != 300 || !res.SwitchedOff || res.State.Replica || res.State.Restoring {
		t.Fatalf("remote restore reports %+v (state %+v), local LSN %d h %s", res, res.State, lsn, h)
	}
	if gotLSN, gotH := stateOf(t, s.opts.DataDir, "bar"); gotLSN != lsn || gotH != h.String() {
		t.Errorf("bar is at LSN %d h %s, local restore's at %d %s", gotLSN, gotH, lsn, h)
	}
	if _, err := res.Replica(); err != nil {
		t.Error(err)
	}
}

// TestRestoreRefusals: the restore table's refusals and bad requests end
// with the local command's exit code, and the HTTP status it maps to.
func TestRestoreRefusals(t *testing.T) {
	hs, s, foo := served(t, 200, 100)
	full := backupOf(t, foo)
	var tail, head bytes.Buffer
	if _, err := backup.Backup(context.Background(), foo, &tail, backup.Options{Start: 151}); err != nil {
		t.Fatal(err)
	}
	if _, err := backup.Backup(context.Background(), foo, &head, backup.Options{End: 50}); err != nil {
		t.Fatal(err)
	}
	c := client(t, hs)
	ctx := context.Background()
	if _, err := c.Restore(ctx, "half", bytes.NewReader(full), RestoreRequest{Options: replica.Options{TargetLSN: 100}}); err != nil {
		t.Fatal(err)
	}
	if _, err := engine.Create(s.opts.DataDir, "other", engine.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	other, err := engine.Open(s.opts.DataDir, "other", engine.Options{})
	if err != nil {
		t.Fatal(err)
	}
	commit(t, other, 10, 10) // another history, held open by its writer
	defer other.Close()
	for _, tc := range []struct {
		name    string
		db      string
		body    []byte
		opts    replica.Options
		code    int
		is      error
		refusal string
	}{
		{name: "has data, no append", db: "half", body: full, code: exitcode.Failure, is: replica.ErrHasData, refusal: "has_data"},
		{name: "gap", db: "half", body: tail.Bytes(), opts: replica.Options{Append: true}, code: exitcode.History},
		{name: "other history", db: "half", body: backupOfDB(t, other), opts: replica.Options{Append: true}, code: exitcode.History},
		{name: "locked by its writer", db: "other", body: full, opts: replica.Options{Append: true}, code: exitcode.Locked},
		{name: "not a replica", db: "half", body: full, opts: replica.Options{Append: true}, code: exitcode.Failure,
			is: replica.ErrNotReplica, refusal: "not_replica"},
		{name: "up to date", db: "half", body: head.Bytes(), opts: replica.Options{Append: true}, code: exitcode.OK},
		{name: "garbage", db: "new", body: bytes.Repeat([]byte("garbage!"), 1000), code: exitcode.Integrity},
		{name: "empty", db: "new", body: nil, code: exitcode.Integrity},
		{name: "target missed", db: "new2", body: full, opts: replica.Options{TargetLSN: 500}, code: exitcode.Failure,
			is: replica.ErrTargetMissed, refusal: "target_missed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := c.Restore(ctx, tc.db, bytes.NewReader(tc.body), RestoreRequest{Options: tc.opts})
			if got := exitcode.Of(err); got != tc.code || (tc.is != nil && !errors.Is(err, tc.is)) {
				t.Errorf("restore into %s = %v (exit %d), want exit %d", tc.db, err, got, tc.code)
			}
		})
	}
	for q, status := range map[string]int{"?nope=1": 400, "?target_lsn=0": 400, "?target_time=yesterday": 400,
		"?target_lsn=5&target_time=latest": 400, "?append=maybe": 400} {
		resp, err := http.Post(hs.URL+"/v1/databases/bar/restore"+q, StreamType, bytes.NewReader(full))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized { // no token: refused before anything
			t.Errorf("POST %s without the token = %d", q, resp.StatusCode)
		}
		req, _ := http.NewRequest(http.MethodPost, hs.URL+"/v1/databases/bar/restore"+q, bytes.NewReader(full))
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err = http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		e := errorOf(t, resp)
		resp.Body.Close()
		if resp.StatusCode != status || e.ExitCode != exitcode.Usage {
			t.Errorf("POST restore%s = %d %+v, want %d", q, resp.StatusCode, e, status)
		}
	}
	if lsn, _ := stateOf(t, s.opts.DataDir, "bar"); lsn != 0 {
		t.Errorf("bar exists at LSN %d after refused requests", lsn)
	}
	if resp := get(t, hs.URL+"/health", ""); resp.StatusCode != http.StatusOK {
		t.Errorf("after garbage, /health = %d", resp.StatusCode)
	}
}

func backupOfDB(t *testing.T, db *engine.DB) []byte { return backupOf(t, db) }

// TestRestoreRefusedBeforeTheBodyIsSent: a refusal the server answers
// while most of a large body is unsent is what the client gets, not a
// broken connection.
func TestRestoreRefusedBeforeTheBodyIsSent(t *testing.T) {
	hs, s, foo := served(t, 300, 64<<10)
	full := backupOf(t, foo) // about 20 MB
	r := stream.NewReader([]stream.Input{{Name: "full", R: bytes.NewReader(full)}}, stream.Options{})
	if _, err := replica.Restore(context.Background(), s.opts.DataDir, "bar", r, replica.Options{}); err != nil {
		t.Fatal(err)
	}
	res, err := client(t, hs).Restore(context.Background(), "bar", bytes.NewReader(full), RestoreRequest{})
	if !errors.Is(err, replica.ErrHasData) || exitcode.Of(err) != exitcode.Failure {
		t.Fatalf("restore into bar without append = %v", err)
	}
	if res.State == nil || res.State.LSN != 300 {
		t.Errorf("result %+v: want bar's state at LSN 300", res)
	}
}

// TestRestoreCutMidFrame: a body that ends inside a frame is a truncated
// stream: the database keeps the whole frames before the cut, durable,
// stays a replica marked restoring, and a restore with append completes it.
func TestRestoreCutMidFrame(t *testing.T) {
	hs, s, foo := served(t, 300, 1000)
	full := backupOf(t, foo)
	c := client(t, hs)
	res, err := c.Restore(context.Background(), "bar", bytes.NewReader(full[:len(full)/2+7]), RestoreRequest{})
	if exitcode.Of(err) != exitcode.Integrity {
		t.Fatalf("restore of a cut body = %v, want a truncated stream", err)
	}
	checkLeft(t, s.opts.DataDir, res, foo)
	res, err = c.Restore(context.Background(), "bar", bytes.NewReader(full), RestoreRequest{Options: replica.Options{Append: true}})
	if err != nil || res.State == nil || res.State.LSN != 300 || res.State.Restoring || !res.SwitchedOff {
		t.Fatalf("resumed restore: %v, %+v", err, res)
	}
	sameAs(t, s.opts.DataDir, "bar", foo)
}

// checkLeft checks that a failed restore into bar left it at the stream's
// last whole frame, durable, a replica marked restoring, with foo's
// history, and its lock released.
func checkLeft(t *testing.T, dir string, res RestoreResult, foo *engine.DB) {
	t.Helper()
	st := res.State
	if st == nil || st.LSN == 0 || st.LSN != res.StreamLast || !st.Replica || !st.Restoring {
		t.Fatalf("left %+v (state %+v): want the last whole frame, restoring", res, st)
	}
	bar, err := engine.Open(dir, "bar", engine.Options{}) // as a writer: the lock was released
	if err != nil {
		t.Fatal(err)
	}
	defer bar.Close()
	lsn, h, err := bar.State()
	if want, herr := foo.HashAt(lsn); err != nil || herr != nil || lsn != st.LSN || h != want || h.String() != st.Hash {
		t.Fatalf("bar at LSN %d h %s (%v), reported %+v, foo's h %s (%v)", lsn, h, err, st, want, herr)
	}
}

// sameAs checks that database name in dir has foo's state.
func sameAs(t *testing.T, dir, name string, foo *engine.DB) {
	t.Helper()
	lsn, h := stateOf(t, dir, name)
	wantLSN, wantH, err := foo.State()
	if err != nil || lsn != wantLSN || h != wantH.String() {
		t.Errorf("%s at LSN %d h %s; foo at %d h %s (%v)", name, lsn, h, wantLSN, wantH, err)
	}
}

// stalling is a body that sends first, then blocks (a stalled client)
// until release is closed; reached is closed once it blocks.
type stalling struct {
	first            io.Reader
	reached, release chan struct{}
}

func newStalling(first []byte) *stalling {
	return &stalling{first: bytes.NewReader(first), reached: make(chan struct{}), release: make(chan struct{})}
}

func (s *stalling) Read(p []byte) (int, error) {
	if n, err := s.first.Read(p); err != io.EOF {
		return n, err
	}
	select {
	case <-s.reached:
	default:
		close(s.reached)
	}
	<-s.release
	return 0, io.ErrUnexpectedEOF
}

// TestStalledClientReleased: a client that stops sending mid-body holds
// the writer lock only until the idle timeout: the restore stops as a
// truncated stream, at a frame boundary, resumable.
func TestStalledClientReleased(t *testing.T) {
	_, s0, foo := served(t, 300, 1000)
	s, err := New(Options{DataDir: s0.opts.DataDir, Token: token, Logf: t.Logf, RestoreIdle: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(s)
	defer hs.Close()
	full := backupOf(t, foo)
	body := newStalling(full[:len(full)/2])
	defer close(body.release)
	res, err := client(t, hs).Restore(context.Background(), "bar", body, RestoreRequest{})
	if exitcode.Of(err) != exitcode.Integrity {
		t.Fatalf("restore of a stalled body = %v, want a truncated stream", err)
	}
	checkLeft(t, s.opts.DataDir, res, foo)
}

// TestDrainInterruptsARestore: Drain stops a running restore as SIGINT
// stops the local one (exit 130), durable at a frame boundary; a local
// restore with append completes it.
func TestDrainInterruptsARestore(t *testing.T) {
	hs, s, foo := served(t, 300, 1000)
	full := backupOf(t, foo)
	body := newStalling(full[:len(full)/2])
	defer close(body.release)
	go func() {
		<-body.reached
		s.Drain()
	}()
	res, err := client(t, hs).Restore(context.Background(), "bar", body, RestoreRequest{})
	interruptedAndResumable(t, s.opts.DataDir, res, err, full, foo)
}

// interruptedAndResumable checks that a restore into bar of full (foo's
// backup) ended interrupted, exit 130, durable at a frame boundary, and
// that a local restore with append completes it.
func interruptedAndResumable(t *testing.T, dataDir string, res RestoreResult, err error, full []byte, foo *engine.DB) {
	t.Helper()
	if !errors.Is(err, context.Canceled) || exitcode.Of(err) != exitcode.Interrupted || !strings.Contains(err.Error(), "interrupted") {
		t.Fatalf("restore = %v, want interrupted", err)
	}
	if st := res.State; st != nil && (st.LSN != res.StreamLast || (st.LSN > 0 && !st.Restoring)) {
		t.Fatalf("left %+v (state %+v)", res, st)
	}
	r := stream.NewReader([]stream.Input{{Name: "full", R: bytes.NewReader(full)}}, stream.Options{})
	if _, err := replica.Restore(context.Background(), dataDir, "bar", r, replica.Options{Append: true}); err != nil {
		t.Fatal(err)
	}
	sameAs(t, dataDir, "bar", foo)
}

// TestClientInputFails: a body whose Read fails ends the upload with that
// error: the server stops at a frame boundary, and the caller gets the
// body's error with where the database was left.
func TestClientInputFails(t *testing.T) {
	hs, s, foo := served(t, 300, 1000)
	full := backupOf(t, foo)
	bad := errors.New("disk on fire")
	body := io.MultiReader(bytes.NewReader(full[:len(full)/2]), &failing{err: bad})
	res, err := client(t, hs).Restore(context.Background(), "bar", body, RestoreRequest{})
	if !errors.Is(err, bad) {
		t.Fatalf("restore of a failing body = %v, want its error", err)
	}
	checkLeft(t, s.opts.DataDir, res, foo)
}

type failing struct{ err error }

func (f *failing) Read([]byte) (int, error) { return 0, f.err }

// TestRestoreToATarget: target_lsn and target_time stop where the local
// restore stops, and say what came next.
func TestRestoreToATarget(t *testing.T) {
	hs, _, foo := served(t, 300, 100)
	full := backupOf(t, foo)
	c := client(t, hs)
	res, err := c.Restore(context.Background(), "bar", bytes.NewReader(full), RestoreRequest{Options: replica.Options{TargetLSN: 150}})
	if err != nil || res.State == nil || res.State.LSN != 150 || res.Stop == nil || res.Stop.Last != 150 || res.Stop.Next != 151 {
		t.Fatalf("restore to LSN 150: %v, %+v", err, res)
	}
	at := time.Unix(0, res.Stop.LastTime)
	res, err = c.Restore(context.Background(), "baz", bytes.NewReader(full), RestoreRequest{Options: replica.Options{TargetTime: at}})
	if err != nil || res.Stop == nil || res.State.LSN < 150 || res.Stop.LastTime > at.UnixNano() || res.Stop.NextTime <= at.UnixNano() {
		t.Fatalf("restore to %s: %v, %+v", at, err, res)
	}
	res, err = c.Restore(context.Background(), "qux", bytes.NewReader(full), RestoreRequest{Options: replica.Options{Latest: true}})
	if err != nil || res.State.LSN != 300 {
		t.Fatalf("restore to latest: %v, %+v", err, res)
	}
}

// TestCheck: a healthy database checks ok; one with a damaged frame is
// reported with the frame's file, offset and LSN, exit 3.
func TestCheck(t *testing.T) {
	hs, s, _ := served(t, 100, 100)
	c := client(t, hs)
	rep, err := c.Check(context.Background(), "foo")
	if err != nil || !rep.OK() || rep.Last != 100 || rep.Frames != 100 {
		t.Fatalf("check of foo: %v, %+v", err, rep)
	}
	segs, err := filepath.Glob(filepath.Join(s.opts.DataDir, "foo", "*.seg"))
	if err != nil || len(segs) == 0 {
		t.Fatalf("segments: %v %v", segs, err)
	}
	b, err := os.ReadFile(segs[0])
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/2] ^= 0xff
	if err := os.WriteFile(segs[0], b, 0o644); err != nil {
		t.Fatal(err)
	}
	rep, err = c.Check(context.Background(), "foo")
	if exitcode.Of(err) != exitcode.Integrity || rep == nil || rep.OK() || rep.Findings[0].LSN == 0 ||
		rep.Findings[0].Source != segs[0] || exitcode.Of(rep.Findings[0].Err) != exitcode.Integrity {
		t.Fatalf("check of a damaged foo: %v, %+v", err, rep)
	}
	if _, err := c.Check(context.Background(), "nope"); exitcode.Of(err) != exitcode.Failure {
		t.Errorf("check of nope: %v", err)
	}
	if _, err := c.Check(context.Background(), "No"); exitcode.Of(err) != exitcode.Usage {
		t.Errorf("check of No: %v", err)
	}
}

// TestRestoreMetrics: /metrics counts the frames and bytes restores
// applied, and the restores that failed, refusals included.
func TestRestoreMetrics(t *testing.T) {
	hs, _, foo := served(t, 40, 100)
	full := backupOf(t, foo)
	c := client(t, hs)
	if _, err := c.Restore(context.Background(), "bar", bytes.NewReader(full), RestoreRequest{}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Restore(context.Background(), "bar", bytes.NewReader(full), RestoreRequest{}); err == nil { // bar has data
		t.Fatal("a second full restore into bar was not refused")
	}
	samples := scrape(t, get(t, hs.URL+"/metrics", token).Body)
	for name, want := range map[string]float64{
		"hotpipe_server_restores":              0,
		"hotpipe_server_restored_frames_total": 40,
		"hotpipe_server_failed_restores_total": 1,
	} {
		if got, ok := samples[name]; !ok || got != want {
			t.Errorf("%s = %v (present %v), want %v", name, got, ok, want)
		}
	}
	if samples["hotpipe_server_restored_bytes_total"] <= 0 {
		t.Errorf("hotpipe_server_restored_bytes_total = %v", samples["hotpipe_server_restored_bytes_total"])
	}
}

// TestStoppingARestore: a running restore is listed by GET /v1/streams,
// with its database, and POST /v1/streams/{id}/stop stops it as SIGINT
// stops the local one: exit 130, durable at a frame boundary, its lock
// released, and a local restore with append completes it.
func TestStoppingARestore(t *testing.T) {
	hs, s, foo := served(t, 300, 1000)
	c := client(t, hs)
	full := backupOf(t, foo)
	body := newStalling(full[:len(full)/2])
	defer close(body.release)
	go func() {
		<-body.reached
		var list struct{ Streams []StreamInfo }
		if err := c.getJSON(context.Background(), "/v1/streams", &list); err != nil || len(list.Streams) != 1 ||
			list.Streams[0].Kind != "restore" || list.Streams[0].DB != "bar" {
			t.Errorf("GET /v1/streams: %+v, %v", list, err)
			s.Drain() // let the restore end
			return
		}
		resp, err := c.do(context.Background(), http.MethodPost, "/v1/streams/"+list.Streams[0].ID+"/stop", nil, nil)
		if err != nil {
			t.Errorf("stop: %v", err)
			s.Drain()
			return
		}
		defer resp.Body.Close()
		if b, _ := io.ReadAll(resp.Body); !strings.Contains(string(b), `"stopped":true`) {
			t.Errorf("stop: %s", b)
		}
	}()
	res, err := c.Restore(context.Background(), "bar", body, RestoreRequest{})
	interruptedAndResumable(t, s.opts.DataDir, res, err, full, foo)
}
