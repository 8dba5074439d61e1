package server

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
)

// StartJob asks the server to start a job; the answer is its status.
func (c *Client) StartJob(ctx context.Context, req JobRequest) (JobStatus, error) {
	body, err := json.Marshal(req)
	if err != nil {
		return JobStatus{}, err
	}
	var st JobStatus
	return st, c.sendJSON(ctx, http.MethodPost, "/v1/jobs", bytes.NewReader(body), &st)
}

// Jobs lists the server's running and kept jobs, oldest first.
func (c *Client) Jobs(ctx context.Context) (Jobs, error) {
	var j Jobs
	return j, c.getJSON(ctx, "/v1/jobs", &j)
}

// Job reads the status of job id.
func (c *Client) Job(ctx context.Context, id string) (JobStatus, error) {
	var st JobStatus
	return st, c.getJSON(ctx, "/v1/jobs/"+url.PathEscape(id), &st)
}

// AbortJob asks the server to abort job id; the answer is its status,
// which says "aborted" once the job has settled.
func (c *Client) AbortJob(ctx context.Context, id string) (JobStatus, error) {
	var st JobStatus
	return st, c.sendJSON(ctx, http.MethodPost, "/v1/jobs/"+url.PathEscape(id)+"/abort", nil, &st)
}

// sendJSON sends a request with body to path (with its query) and
// decodes its JSON answer into v.
func (c *Client) sendJSON(ctx context.Context, method, path string, body io.Reader, v any) error {
	u, err := url.Parse(path)
	if err != nil {
		return err
	}
	resp, err := c.do(ctx, method, u.Path, u.Query(), body)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(v); err != nil {
		return fmt.Errorf("server %s: %s: the answer is not whole JSON: %w (%v)", c, path, errTruncatedAnswer, err)
	}
	return nil
}

// Err is the job's error, with the exit code the server gave it: nil
// while it runs, when it succeeded, and when an archive stopped as asked.
func (st JobStatus) Err() error {
	if st.Error == nil {
		return nil
	}
	return remoteError(*st.Error)
}
