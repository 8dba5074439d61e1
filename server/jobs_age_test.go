package server

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"filippo.io/age"
	"filippo.io/age/agessh"
	"golang.org/x/crypto/ssh"

	"github.com/hotpipe/hotpipe/internal/exitcode"
	"github.com/hotpipe/hotpipe/repo"
	"github.com/hotpipe/hotpipe/stream"
)

// ageKeys are an X25519 and an ssh-ed25519 identity, and their public
// keys as a job request carries them.
type ageKeys struct {
	ids  []age.Identity
	pubs []string
}

func newAgeKeys(t *testing.T) ageKeys {
	t.Helper()
	x, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	sid, err := agessh.NewEd25519Identity(priv)
	if err != nil {
		t.Fatal(err)
	}
	spub, err := ssh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return ageKeys{ids: []age.Identity{x, sid},
		pubs: []string{x.Recipient().String(), strings.TrimSpace(string(ssh.MarshalAuthorizedKey(spub)))}}
}

// TestJobEncrypted: a file job with recipients writes an age file (its
// status says encrypted) that each identity decrypts into a backup that
// restores to foo's state.
func TestJobEncrypted(t *testing.T) {
	c, s, db := jobsServed(t, 300, 300, Options{}) // several 64 KiB age chunks
	k := newAgeKeys(t)
	st := startJob(t, c, JobRequest{Kind: JobBackup, DB: "foo", File: "foo.age", Recipients: k.pubs})
	if !st.Encrypted {
		t.Fatalf("started %+v: not encrypted", st)
	}
	st = settled(t, c, s, st.ID)
	if st.State != JobSucceeded || !st.Complete || !st.Encrypted || st.LastLSN != 300 {
		t.Fatalf("status %+v, error %+v", st, st.Error)
	}
	b, err := os.ReadFile(filepath.Join(s.opts.BackupDir, "foo.age"))
	if err != nil {
		t.Fatal(err)
	}
	if !stream.IsAge(b) || bytes.Contains(b, []byte("key")) {
		t.Fatal("the job's file is not an age file, or shows keys in clear")
	}
	for i, id := range k.ids {
		r, err := age.Decrypt(bytes.NewReader(b), id)
		if err != nil {
			t.Fatalf("identity %d: %v", i, err)
		}
		plain, err := io.ReadAll(r)
		if err != nil {
			t.Fatalf("identity %d: %v", i, err)
		}
		path := filepath.Join(t.TempDir(), "plain.backup")
		if err := os.WriteFile(path, plain, 0o600); err != nil {
			t.Fatal(err)
		}
		restoresTo(t, path, db)
	}
}

// TestJobRepoEncrypted: a job into the repository encrypts its object,
// named .hp.age, which the repository restores with an identity.
func TestJobRepoEncrypted(t *testing.T) {
	c, s, db := jobsServed(t, 300, 300, Options{})
	k := newAgeKeys(t)
	st := settled(t, c, s, startJob(t, c, JobRequest{Kind: JobBackup, DB: "foo", Repo: true, Recipients: k.pubs}).ID)
	if st.State != JobSucceeded || !st.Encrypted || !strings.HasSuffix(st.Object, ".hp.age") || st.LastLSN != 300 {
		t.Fatalf("status %+v, error %+v", st, st.Error)
	}
	dir := t.TempDir()
	if _, err := s.opts.Repo.Restore(context.Background(), dir, "copy", repo.RestoreOptions{Source: "foo", Identities: k.ids[:1]}); err != nil {
		t.Fatal(err)
	}
	sameState(t, db, dir, "copy")
}

// TestJobRecipientsRefused: a job request whose recipients cannot be used
// is answered 400 (exit 2) before any job starts, naming the bad one by
// its index and never by its text; a job into the repository, or an
// append, cannot encrypt.
func TestJobRecipientsRefused(t *testing.T) {
	c, s, _ := jobsServed(t, 10, 10, Options{})
	k := newAgeKeys(t)
	secret := "AGE-SECRET-KEY-1QQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQ"
	pq, err := age.GenerateHybridIdentity()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		req  JobRequest
		want string
	}{
		{name: "malformed", req: JobRequest{Recipients: []string{k.pubs[0], "age1qqqq"}}, want: "recipients[1]: not an age recipient: malformed key"},
		{name: "a secret key", req: JobRequest{Recipients: []string{secret}}, want: "recipients[0]: not an age recipient: this is a secret key"},
		{name: "unknown type", req: JobRequest{Recipients: []string{"ecdsa-sha2-nistp256 AAAA"}}, want: "recipients[0]: not an age recipient: age encrypts to ssh-ed25519 and ssh-rsa keys only"},
		{name: "empty", req: JobRequest{Recipients: []string{""}}, want: "recipients[0]: not an age recipient: empty"},
		{name: "too long", req: JobRequest{Recipients: []string{"ssh-rsa " + strings.Repeat("A", maxRecipientLen)}}, want: "recipients[0]: not an age recipient: longer than 8192 bytes"},
		{name: "too many", req: JobRequest{Recipients: make([]string, maxJobRecipients+1)}, want: "65 recipients: give at most 64"},
		{name: "post-quantum beside classic", req: JobRequest{Recipients: []string{k.pubs[0], pq.Recipient().String()}}, want: "recipients: "},
		{name: "append", req: JobRequest{Append: true, Recipients: k.pubs}, want: "append cannot add to an encrypted backup"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := tt.req
			req.DB = "foo"
			if req.Kind == "" {
				req.Kind = JobBackup
			}
			if !req.Repo && req.Kind == JobBackup {
				req.File = "x.age"
			}
			status, body := postJob(t, c, req)
			if status != http.StatusBadRequest || body.Error.ExitCode != exitcode.Usage || !strings.Contains(body.Error.Message, tt.want) {
				t.Fatalf("answer %d %+v; want 400, exit 2, saying %q", status, body.Error, tt.want)
			}
			if strings.Contains(body.Error.Message, "AGE-SECRET-KEY") {
				t.Fatalf("the answer shows the secret key: %s", body.Error.Message)
			}
			_, err := c.StartJob(context.Background(), req)
			var re *exitcode.RemoteError
			if !errors.As(err, &re) || exitcode.Of(err) != exitcode.Usage {
				t.Fatalf("StartJob = %v; want the server's usage error", err)
			}
		})
	}
	if jobs, err := c.Jobs(context.Background()); err != nil || len(jobs.Jobs) != 0 {
		t.Fatalf("jobs after refused requests: %+v, %v", jobs, err)
	}
	if _, err := os.Stat(filepath.Join(s.opts.BackupDir, "x.age")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("x.age: %v; want no file", err)
	}
}

// postJob POSTs req as JSON and returns the answer's status and error body.
func postJob(t *testing.T, c *Client, req JobRequest) (int, ErrorBody) {
	t.Helper()
	b, err := json.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	hr, err := http.NewRequest(http.MethodPost, c.String()+"/v1/jobs", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	hr.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(hr)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body ErrorBody
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, body
}

// TestVerifyEncryptedFile: the server, holding no identities, refuses to
// verify an age file of its backup directory, alone or after a plain one,
// with an integrity error (exit 3, 422) saying where to verify it; never
// a report that could read as verified.
func TestVerifyEncryptedFile(t *testing.T) {
	c, s, _ := jobsServed(t, 40, 100, Options{})
	k := newAgeKeys(t)
	settled(t, c, s, startJob(t, c, JobRequest{Kind: JobBackup, DB: "foo", File: "foo.backup"}).ID)
	settled(t, c, s, startJob(t, c, JobRequest{Kind: JobBackup, DB: "foo", File: "foo.age", Recipients: k.pubs}).ID)
	for _, names := range [][]string{{"foo.age"}, {"foo.backup", "foo.age"}} {
		rep, err := c.VerifyFiles(context.Background(), names)
		if rep != nil || exitcode.Of(err) != exitcode.Integrity || !strings.Contains(err.Error(), "foo.age is encrypted (age), and the server holds no identities") ||
			!strings.Contains(err.Error(), "hotpipe verify foo.age --identity FILE") {
			t.Fatalf("%v: report %v, error %v; want the encrypted file refused, exit 3", names, rep, err)
		}
	}
	resp, err := http.Get(c.String() + "/v1/files/foo.age/verify")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized { // the token still comes first
		t.Fatalf("without a token: %d", resp.StatusCode)
	}
	if err := (&EncryptedFileError{Name: "x"}); !errors.Is(err, stream.ErrNoIdentity) || statusOf(err) != http.StatusUnprocessableEntity {
		t.Fatalf("EncryptedFileError: ErrNoIdentity %v, status %d", errors.Is(err, stream.ErrNoIdentity), statusOf(err))
	}
	if rep, err := c.VerifyFiles(context.Background(), []string{"foo.backup"}); err != nil || rep.Err() != nil {
		t.Fatalf("the plain file: %v, %v", err, rep.Err())
	}
}

// TestJobEncryptedAborted: an encrypted file job aborted mid-way is left
// without its sealed last chunk; its note says append cannot complete it
// and what to do instead, and an append job is refused.
func TestJobEncryptedAborted(t *testing.T) {
	c, s, _ := jobsServed(t, 300, 8<<10, Options{}) // 2.4 MiB: more than one 1 MiB block
	k := newAgeKeys(t)
	st := startJob(t, c, JobRequest{Kind: JobBackup, DB: "foo", File: "foo.age", MaxRate: 1000, Recipients: k.pubs})
	path := filepath.Join(s.opts.BackupDir, "foo.age")
	waitUntil(t, "first block in the file", hasBytes(path, 1<<19))
	if _, err := c.AbortJob(context.Background(), st.ID); err != nil {
		t.Fatal(err)
	}
	st = settled(t, c, s, st.ID)
	if st.State != JobAborted || st.Complete || !st.Encrypted || st.Error == nil || st.Error.ExitCode != exitcode.Interrupted ||
		!strings.Contains(st.Note, "foo.age is encrypted") || !strings.Contains(st.Note, "append cannot add to it: remove it and start a new backup job") {
		t.Fatalf("aborted: %+v %+v", st, st.Error)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	r, err := age.Decrypt(bytes.NewReader(b), k.ids[0])
	if err == nil {
		_, err = io.ReadAll(r)
	}
	if err == nil {
		t.Fatal("the aborted encrypted file decrypts whole")
	}
	st = settled(t, c, s, startJob(t, c, JobRequest{Kind: JobBackup, DB: "foo", File: "foo.age", Append: true}).ID)
	if after, err := os.ReadFile(path); st.State != JobFailed || st.Error == nil || err != nil || !bytes.Equal(after, b) {
		t.Fatalf("append job to the encrypted file: %+v %+v (%v); want it failed, the file untouched", st, st.Error, err)
	}
}
