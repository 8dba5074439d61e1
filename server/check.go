package server

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"

	"github.com/hotpipe/hotpipe/internal/exitcode"
	"github.com/hotpipe/hotpipe/txframe"
	"github.com/hotpipe/hotpipe/verify"
)

// CheckAnswer is what GET /v1/databases/{db}/check answers: the report,
// and, when the check found damage or could not finish, the error object
// of an error answer (status 422 for damage), so the body is also an
// ErrorBody.
type CheckAnswer struct {
	Error  *ErrorJSON   `json:"error,omitempty"`
	Report *CheckReport `json:"report,omitempty"`
}

// CheckReport is a verify.DBReport as JSON: `db check`'s figures, and
// every damaged frame, seal or watermark found, in log order.
type CheckReport struct {
	DB       string         `json:"db"`
	Last     uint64         `json:"last_lsn"`
	Hash     string         `json:"hash"`
	Frames   uint64         `json:"frames"`
	Segments int            `json:"segment_files"`
	Bytes    int64          `json:"bytes"`
	Findings []CheckFinding `json:"problems"`
}

// CheckFinding is a verify.Finding: the server's file, the offset in it,
// the LSN concerned and what is wrong, with its exit code.
type CheckFinding struct {
	Source   string `json:"file"`
	Offset   int64  `json:"offset"`
	LSN      uint64 `json:"lsn"`
	Message  string `json:"message"`
	ExitCode int    `json:"exit_code"`
}

// check verifies every byte of a database's durable history, as `db
// check` does, as a lock-free reader: GET /v1/databases/{db}/check.
func (s *Server) check(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("db")
	db, ok := s.openReader(w, name, known(r.URL.Query()))
	if !ok {
		return
	}
	defer db.Close()
	ctx, _, done := s.startStream(r.Context(), "check", name)
	defer done()
	rep, err := verify.Database(ctx, db, verify.Options{})
	if err == nil {
		err = rep.Err()
	}
	ans, status := CheckAnswer{Report: checkReportOf(rep)}, http.StatusOK
	if err != nil {
		e := errorJSON(err)
		ans.Error, status = &e, statusOf(err)
	}
	writeJSON(w, status, ans)
}

func checkReportOf(rep *verify.DBReport) *CheckReport {
	if rep == nil {
		return nil
	}
	out := &CheckReport{DB: rep.DB, Last: rep.Last, Hash: rep.Hash.String(), Frames: rep.Frames, Segments: rep.Segments,
		Bytes: rep.Bytes, Findings: []CheckFinding{}}
	for _, f := range rep.Findings {
		out.Findings = append(out.Findings, CheckFinding{Source: f.Source, Offset: f.Offset, LSN: f.LSN,
			Message: f.Err.Error(), ExitCode: exitcode.Of(f.Err)})
	}
	return out
}

// DBReport is the report as a verify.DBReport, each finding's error a
// *exitcode.RemoteError with its message and exit code.
func (c *CheckReport) DBReport() (*verify.DBReport, error) {
	h, err := txframe.ParseHash(c.Hash)
	if err != nil {
		return nil, fmt.Errorf("check report of %s: hash: %w", c.DB, err)
	}
	rep := &verify.DBReport{DB: c.DB, Last: c.Last, Hash: h, Frames: c.Frames, Segments: c.Segments, Bytes: c.Bytes}
	for _, f := range c.Findings {
		rep.Findings = append(rep.Findings, verify.Finding{Source: f.Source, Offset: f.Offset, LSN: f.LSN,
			Err: &exitcode.RemoteError{Message: f.Message, Code: f.ExitCode}})
	}
	return rep, nil
}

// Check asks the server to verify every byte of db's durable history, as
// `db check` does. The report comes with the check's error, if any: the
// server's, with its exit code (3 for damage), whose message is what the
// local check says.
func (c *Client) Check(ctx context.Context, db string) (*verify.DBReport, error) {
	resp, err := c.send(ctx, http.MethodGet, "/v1/databases/"+url.PathEscape(db)+"/check", nil, nil, nil)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var ans CheckAnswer
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxAnswer)).Decode(&ans); err != nil || (ans.Report == nil && ans.Error == nil) {
		if resp.StatusCode >= 300 {
			return nil, fmt.Errorf("server %s answered %s", c, resp.Status)
		}
		return nil, fmt.Errorf("server %s: check of %s: the answer is not a report: %w (%v)", c, db, errTruncatedAnswer, err)
	}
	var rep *verify.DBReport
	if ans.Report != nil {
		if rep, err = ans.Report.DBReport(); err != nil {
			return nil, fmt.Errorf("server %s: %w", c, err)
		}
	}
	if ans.Error != nil {
		return rep, remoteError(*ans.Error)
	}
	return rep, nil
}
