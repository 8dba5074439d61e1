package server

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/hotpipe/hotpipe/internal/exitcode"
	"github.com/hotpipe/hotpipe/stream"
)

// TestStreamWithoutTheServersWordIsTruncated: a backup stream whose body
// ends cleanly but without the result trailer that says it is whole (a
// proxy that drops trailers, or something that is not a hotpipe server)
// is a truncated stream, exit 3: even a whole stream, end record and all.
// An error trailer without an exit code is a failure, never a success.
func TestStreamWithoutTheServersWordIsTruncated(t *testing.T) {
	_, _, db := served(t, 20, 10)
	whole := backupOf(t, db)
	for _, tc := range []struct {
		name     string
		trailers map[string]string
		code     int
	}{
		{"no trailer", nil, exitcode.Integrity},
		{"a result that did not end", map[string]string{TrailerResult: `{"last_lsn":20,"ended":false}`}, exitcode.Integrity},
		{"a garbled result", map[string]string{TrailerResult: `{"ended":tru`}, exitcode.Integrity},
		{"an error without a code", map[string]string{TrailerError: `{"message":"proxy says no"}`}, exitcode.Failure},
		{"the server's word", map[string]string{TrailerResult: `{"last_lsn":20,"frames":20,"ended":true}`}, exitcode.OK},
	} {
		t.Run(tc.name, func(t *testing.T) {
			hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				for k := range tc.trailers {
					w.Header().Add("Trailer", k)
				}
				_, _ = w.Write(whole)
				for k, v := range tc.trailers {
					w.Header().Set(k, v)
				}
			}))
			defer hs.Close()
			st, err := client(t, hs).Backup(context.Background(), "foo", BackupRequest{})
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			_, err = io.Copy(io.Discard, st)
			if got := exitcode.Of(err); got != tc.code {
				t.Fatalf("the stream ended with %v (exit %d), want exit %d", err, got, tc.code)
			}
			if tc.code == exitcode.Integrity && !errors.Is(err, stream.ErrTruncated) {
				t.Errorf("%v is not stream.ErrTruncated", err)
			}
		})
	}
}

// TestCutAnswerIsTruncated: a JSON answer cut on the way (db list, a
// job's status) is a truncated answer, exit 3, as a cut stream is.
func TestCutAnswerIsTruncated(t *testing.T) {
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"data_dir":"/data","databases":["fo`)
	}))
	defer hs.Close()
	_, err := client(t, hs).Databases(context.Background())
	if exitcode.Of(err) != exitcode.Integrity || !errors.Is(err, stream.ErrTruncated) {
		t.Fatalf("a cut answer: %v (exit %d), want a truncated one", err, exitcode.Of(err))
	}
}
