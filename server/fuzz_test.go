package server

import (
	"bytes"
	"math"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"testing"

	"github.com/hotpipe/hotpipe/engine"
)

// FuzzJobRequest: any body is either refused, or a job whose database name
// is valid and whose file, if any, lies directly in the backup directory:
// no request can make the server write anywhere else.
func FuzzJobRequest(f *testing.F) {
	for _, seed := range []string{
		`{"job_kind":"backup","db":"foo","file":"foo.backup","append":true}`,
		`{"job_kind":"backup","db":"foo","repo":true,"level":1,"expires":"2999-01-01T00:00:00Z"}`,
		`{"job_kind":"archive","db":"foo","max_delay":"1s","object_size":1048576}`,
		`{"job_kind":"backup","db":"foo","file":"../etc/passwd"}`,
		`{"job_kind":"backup","db":"foo","file":"a\\b"}`,
		`{"job_kind":"backup","db":"foo","file":"x"}{}`,
		`{"job_kind":"backup","db":"Foo","file":"x","max_rate":1e308}`,
	} {
		f.Add([]byte(seed))
	}
	s := &Server{opts: Options{BackupDir: "/backups"}}
	f.Fuzz(func(t *testing.T, body []byte) {
		r := httptest.NewRequest(http.MethodPost, "/v1/jobs", bytes.NewReader(body))
		req, err := decodeJob(httptest.NewRecorder(), r)
		if err == nil {
			err = s.checkJob(req)
		}
		if err != nil {
			return
		}
		if engine.ValidateName(req.DB) != nil {
			t.Fatalf("job of database %q accepted", req.DB)
		}
		if req.File != "" && filepath.Dir(s.filePath(req.File)) != "/backups" {
			t.Fatalf("file %q resolves to %s, outside the backup directory", req.File, s.filePath(req.File))
		}
	})
}

// FuzzQueryOptions: any query string either is refused or gives options
// the libraries accept: a backup's range and rate, a restore's targets.
func FuzzQueryOptions(f *testing.F) {
	for _, seed := range []string{"start=5&end=9", "after=3&follow=true", "max_rate=1000", "follow=true&end=4",
		"append=true&force_replica=true&target_lsn=7", "target_time=2026-11-20T14:30:00Z", "target_time=latest&target_lsn=1",
		"if_not_exists=1", "start=%zz", "max_rate=NaN", "max_rate=Inf", "max_rate=1e400"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		q, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		if o, err := backupOptions(q); err == nil {
			if o.Follow && o.End != 0 || o.MaxRate != 0 && !(o.MaxRate >= 1000 && o.MaxRate <= math.MaxFloat64) {
				t.Fatalf("%q: backup options %+v accepted", raw, o)
			}
		}
		if o, err := restoreOptions(q); err == nil {
			if err := o.Validate(); err != nil {
				t.Fatalf("%q: restore options %+v accepted, but %v", raw, o, err)
			}
		}
	})
}
