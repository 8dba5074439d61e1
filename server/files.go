package server

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"syscall"
	"time"

	"github.com/hotpipe/hotpipe/internal/exitcode"
	"github.com/hotpipe/hotpipe/stream"
	"github.com/hotpipe/hotpipe/txframe"
	"github.com/hotpipe/hotpipe/verify"
)

// Files is what GET /v1/files answers: the backup directory's files.
type Files struct {
	Files []FileInfo `json:"files"`
}

// FileInfo is one file of the backup directory.
type FileInfo struct {
	Name     string    `json:"file"`
	Bytes    int64     `json:"bytes"`
	Modified time.Time `json:"modified"`
}

// VerifyReport is what GET /v1/files/{name}/verify answers: verify's
// report (package verify) of the files, read as one stream.
type VerifyReport struct {
	Inputs      []VerifyInput   `json:"inputs"`
	Problems    []VerifyProblem `json:"problems"`
	FirstLSN    uint64          `json:"first_lsn"`
	LastLSN     uint64          `json:"last_lsn"`
	Frames      uint64          `json:"frames"`
	Segments    int             `json:"segment_count"`
	Bytes       int64           `json:"bytes"`
	FirstCommit *time.Time      `json:"first_commit,omitempty"`
	LastCommit  *time.Time      `json:"last_commit,omitempty"`
	Hash        string          `json:"hash,omitempty"`
}

// VerifyInput is one input of a VerifyReport: verify.InputReport.
type VerifyInput struct {
	File     string `json:"file"`
	FirstLSN uint64 `json:"first_lsn"`
	LastLSN  uint64 `json:"last_lsn"`
	Frames   uint64 `json:"frames"`
	Segments int    `json:"segment_count"`
	Problems int    `json:"problem_count"`
}

// VerifyProblem is one finding: where, what, and the exit code it maps to.
type VerifyProblem struct {
	File     string `json:"file"`
	Offset   int64  `json:"offset"`
	LSN      uint64 `json:"lsn"`
	Message  string `json:"message"`
	ExitCode int    `json:"exit_code"`
}

// errNoBackupDir answers file requests to a server without --backup-dir.
var errNoBackupDir = fmt.Errorf("%w: this server has no backup directory: start hotpipe serve with --backup-dir DIR", errUsage)

// listFiles answers GET /v1/files: the regular files of the backup
// directory whose names are plain names, sorted.
func (s *Server) listFiles(w http.ResponseWriter, r *http.Request) {
	err := known(r.URL.Query())
	if err == nil && s.opts.BackupDir == "" {
		err = errNoBackupDir
	}
	var entries []os.DirEntry
	if err == nil {
		entries, err = os.ReadDir(s.opts.BackupDir)
	}
	if err != nil {
		writeError(w, err)
		return
	}
	out := Files{Files: []FileInfo{}}
	for _, e := range entries {
		info, err := e.Info()
		if err != nil || !info.Mode().IsRegular() || ValidateFileName(e.Name()) != nil {
			continue
		}
		out.Files = append(out.Files, FileInfo{Name: e.Name(), Bytes: info.Size(), Modified: info.ModTime().UTC()})
	}
	writeJSON(w, http.StatusOK, out)
}

// openFile opens a file of the backup directory for reading: a regular
// file, found without leaving the directory (a symbolic link out of it is
// refused) and without blocking (a FIFO is refused, not waited on).
func (s *Server) openFile(name string) (*os.File, error) {
	root, err := os.OpenRoot(s.opts.BackupDir)
	if err != nil {
		return nil, err
	}
	defer root.Close()
	f, err := root.OpenFile(name, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() {
		f.Close()
		if err == nil {
			err = &fs.PathError{Op: "open", Path: name, Err: errNotRegular}
		}
		return nil, err
	}
	return f, nil
}

// errNotRegular is a name in the backup directory that is not a regular
// file.
var errNotRegular = fmt.Errorf("%w: not a regular file", errUsage)

// maxVerifyFiles bounds the files one verify opens: each is held open
// until the verify ends.
const maxVerifyFiles = 256

// verifyFiles answers GET /v1/files/{name}/verify[?next=NAME...]: the
// file, then each next one, verified as one stream, as `verify NAME...`
// run in the backup directory verifies them. Problems are the report's,
// answered 200; a file that cannot be opened is an error answer.
func (s *Server) verifyFiles(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	names := append([]string{r.PathValue("name")}, q["next"]...)
	err := known(q, "next")
	if err == nil && s.opts.BackupDir == "" {
		err = errNoBackupDir
	}
	if err == nil && len(names) > maxVerifyFiles {
		err = fmt.Errorf("%w: %d files: verify at most %d at once", errUsage, len(names), maxVerifyFiles)
	}
	for _, n := range names {
		if err == nil {
			err = ValidateFileName(n)
		}
	}
	if err != nil {
		writeError(w, err)
		return
	}
	var inputs []stream.Input
	for _, n := range names {
		f, err := s.openFile(n)
		if err != nil {
			var pe *fs.PathError
			if errors.As(err, &pe) { // named as the client names it, not by the server's path
				err = fmt.Errorf("open %s: %w", n, pe.Err)
			}
			if errors.Is(err, fs.ErrNotExist) {
				err = &httpError{status: http.StatusNotFound, err: err}
			}
			writeError(w, err)
			return
		}
		defer f.Close()
		if err := refuseEncrypted(f, n); err != nil {
			writeError(w, err)
			return
		}
		inputs = append(inputs, stream.Input{Name: n, R: f})
	}
	rep, err := verify.Stream(r.Context(), inputs, verify.Options{})
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, verifyReportOf(rep))
}

func verifyReportOf(rep *verify.Report) VerifyReport {
	out := VerifyReport{Inputs: []VerifyInput{}, Problems: []VerifyProblem{}, FirstLSN: rep.First, LastLSN: rep.Last,
		Frames: rep.Frames, Segments: rep.Segments, Bytes: rep.Bytes}
	if rep.Frames > 0 {
		out.FirstCommit, out.LastCommit, out.Hash = timeOrNil(rep.FirstTime), timeOrNil(rep.LastTime), rep.FinalHash.String()
	}
	for _, in := range rep.Inputs {
		out.Inputs = append(out.Inputs, VerifyInput{File: in.Source, FirstLSN: in.First, LastLSN: in.Last,
			Frames: in.Frames, Segments: in.Segments, Problems: in.Findings})
	}
	for _, f := range rep.Findings {
		out.Problems = append(out.Problems, VerifyProblem{File: f.Source, Offset: f.Offset, LSN: f.LSN,
			Message: f.Err.Error(), ExitCode: exitcode.Of(f)})
	}
	return out
}

// Report is the verify.Report the answer describes, as the local verify
// would have made it: each finding's error is its message and exit code.
func (v VerifyReport) Report() (*verify.Report, error) {
	rep := &verify.Report{First: v.FirstLSN, Last: v.LastLSN, Frames: v.Frames, Segments: v.Segments, Bytes: v.Bytes}
	if v.Frames > 0 {
		h, err := txframe.ParseHash(v.Hash)
		if err != nil || v.FirstCommit == nil || v.LastCommit == nil {
			return nil, fmt.Errorf("the server's verify report: no commit times, or hash %q: %v", v.Hash, err)
		}
		rep.FinalHash, rep.FirstTime, rep.LastTime = h, v.FirstCommit.UTC(), v.LastCommit.UTC()
	}
	for _, in := range v.Inputs {
		rep.Inputs = append(rep.Inputs, verify.InputReport{Source: in.File, First: in.FirstLSN, Last: in.LastLSN,
			Frames: in.Frames, Segments: in.Segments, Findings: in.Problems})
	}
	for _, p := range v.Problems {
		rep.Findings = append(rep.Findings, verify.Finding{Source: p.File, Offset: p.Offset, LSN: p.LSN,
			Err: &exitcode.RemoteError{Message: p.Message, Code: p.ExitCode}})
	}
	return rep, nil
}

// VerifyFiles asks the server to verify files of its backup directory,
// in order, as one stream.
func (c *Client) VerifyFiles(ctx context.Context, names []string) (*verify.Report, error) {
	if len(names) == 0 {
		return nil, fmt.Errorf("%w: no file to verify", errUsage)
	}
	for _, n := range names {
		if err := ValidateFileName(n); err != nil { // "../x" would reach another endpoint
			return nil, err
		}
	}
	path := "/v1/files/" + url.PathEscape(names[0]) + "/verify"
	if len(names) > 1 {
		path += "?" + url.Values{"next": names[1:]}.Encode()
	}
	var v VerifyReport
	if err := c.getJSON(ctx, path, &v); err != nil {
		return nil, err
	}
	return v.Report()
}

// Files lists the server's backup directory.
func (c *Client) Files(ctx context.Context) (Files, error) {
	var f Files
	return f, c.getJSON(ctx, "/v1/files", &f)
}
