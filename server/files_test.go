package server

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/hotpipe/hotpipe/internal/exitcode"
	"github.com/hotpipe/hotpipe/stream"
	"github.com/hotpipe/hotpipe/verify"
)

// localVerify verifies files of dir as the local verify does, named as
// given.
func localVerify(t *testing.T, dir string, names ...string) *verify.Report {
	t.Helper()
	var inputs []stream.Input
	for _, n := range names {
		f, err := os.Open(filepath.Join(dir, n))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		inputs = append(inputs, stream.Input{Name: n, R: f})
	}
	rep, err := verify.Stream(context.Background(), inputs, verify.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

// TestVerifyFiles: the server verifies files of its backup directory and
// its report is the one verify makes locally, findings and exit code
// included; names that are not plain, and absent files, are refused.
func TestVerifyFiles(t *testing.T) {
	c, s, _ := jobsServed(t, 40, 100, Options{})
	dir := s.opts.BackupDir
	settled(t, c, s, startJob(t, c, JobRequest{Kind: JobBackup, DB: "foo", File: "foo.backup"}).ID)
	b, err := os.ReadFile(filepath.Join(dir, "foo.backup"))
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/2] ^= 0x40
	if err := os.WriteFile(filepath.Join(dir, "damaged.backup"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, names := range [][]string{{"foo.backup"}, {"damaged.backup"}, {"foo.backup", "foo.backup"}} {
		got, err := c.VerifyFiles(context.Background(), names)
		if err != nil {
			t.Fatalf("%v: %v", names, err)
		}
		want := localVerify(t, dir, names...)
		if exitcode.Of(got.Err()) != exitcode.Of(want.Err()) || (got.Err() != nil && got.Err().Error() != want.Err().Error()) {
			t.Errorf("%v: error %v, want %v", names, got.Err(), want.Err())
		}
		if !reflect.DeepEqual(exported(got), exported(want)) {
			t.Errorf("%v: report\n%+v\nwant\n%+v", names, got, want)
		}
	}
	files, err := c.Files(context.Background())
	if err != nil || len(files.Files) != 2 || files.Files[0].Name != "damaged.backup" || files.Files[1].Bytes != int64(len(b)) {
		t.Errorf("files %+v, %v", files, err)
	}
	for name, code := range map[string]int{"..": exitcode.Usage, ".hidden": exitcode.Usage, "nope.backup": exitcode.Failure} {
		_, err := c.VerifyFiles(context.Background(), []string{"foo.backup", name})
		if exitcode.Of(err) != code || !strings.Contains(err.Error(), name) {
			t.Errorf("verify %s: %v (exit %d), want exit %d", name, err, exitcode.Of(err), code)
		}
	}
	if _, err := c.VerifyFiles(context.Background(), []string{"nope.backup"}); err == nil || err.Error() != "open nope.backup: no such file or directory" {
		t.Errorf("verify nope.backup: %v", err)
	}
}

// TestJobMetrics: /metrics counts jobs by state, has the time of foo's
// last successful backup and its failures, and the lag of a running
// archive job; an archive aborted stops gracefully, without an error.
func TestJobMetrics(t *testing.T) {
	c, s, db := jobsServed(t, 30, 100, Options{})
	settled(t, c, s, startJob(t, c, JobRequest{Kind: JobBackup, DB: "foo", File: "foo.backup"}).ID)
	failed := settled(t, c, s, startJob(t, c, JobRequest{Kind: JobBackup, DB: "foo", File: "foo.backup"}).ID)
	if failed.State != JobFailed || failed.Error == nil || !strings.Contains(failed.Error.Message, "foo.backup") {
		t.Fatalf("a backup into an existing file: %+v", failed)
	}
	arch := startJob(t, c, JobRequest{Kind: JobArchive, DB: "foo", MaxDelay: "10ms"})
	waitUntil(t, "an archived object", func() bool {
		st, err := c.Job(context.Background(), arch.ID)
		return err == nil && st.Objects > 0 && st.LastLSN == 30
	})
	commit(t, db, 1, 10)
	samples := scrape(t, get(t, c.String()+"/metrics", token).Body)
	for name, want := range map[string]float64{
		`hotpipe_jobs{state="succeeded"}`:         1,
		`hotpipe_jobs{state="failed"}`:            1,
		`hotpipe_jobs{state="running"}`:           1,
		`hotpipe_jobs{state="aborted"}`:           0,
		`hotpipe_backup_failures_total{db="foo"}`: 1,
		`hotpipe_archive_running{db="foo"}`:       1,
	} {
		if got, ok := samples[name]; !ok || got != want {
			t.Errorf("%s = %v (present %v), want %v", name, got, ok, want)
		}
	}
	for _, name := range []string{`hotpipe_last_backup_success_timestamp_seconds{db="foo"}`,
		`hotpipe_archive_last_success_timestamp_seconds{db="foo"}`, `hotpipe_archive_last_commit_timestamp_seconds{db="foo"}`} {
		if samples[name] < 1e9 {
			t.Errorf("%s = %v", name, samples[name])
		}
	}
	if _, ok := samples[`hotpipe_archive_lag_lsns{db="foo"}`]; !ok {
		t.Errorf("no archive lag in %v", samples)
	}
	if _, err := c.StartJob(context.Background(), JobRequest{Kind: JobArchive, DB: "foo"}); exitcode.Of(err) != exitcode.Usage {
		t.Errorf("a second archive of foo: %v", err)
	}
	if _, err := c.AbortJob(context.Background(), arch.ID); err != nil {
		t.Fatal(err)
	}
	st := settled(t, c, s, arch.ID)
	if st.State != JobAborted || st.Error != nil || st.LastLSN != 31 || !strings.Contains(st.Note, "resumes after") {
		t.Errorf("aborted archive: %+v %+v", st, st.Error)
	}
}

// exported is a report's exported figures but its findings (compared
// through Err).
func exported(r *verify.Report) verify.Report {
	return verify.Report{Inputs: r.Inputs, First: r.First, Last: r.Last, Frames: r.Frames, Segments: r.Segments,
		Bytes: r.Bytes, FirstTime: r.FirstTime, LastTime: r.LastTime, FinalHash: r.FinalHash}
}
