package server

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net/http"
	"slices"
	"strings"
	"time"
)

// The causes of a stream's stop, worded as the CLI words a signal's: the
// stream's error ends in them ("backup of foo stopped after LSN 9:
// interrupted"), and stream.Stopped makes them context.Canceled (exit 130).
var (
	errInterrupted    = errors.New("interrupted")
	errServerStopping = errors.New("interrupted: the server is stopping")
)

// StreamInfo is a running stream as GET /v1/streams lists it: a backup
// being sent, a restore being applied (it holds its database's writer
// lock), or a check.
type StreamInfo struct {
	ID      string    `json:"id"`
	Kind    string    `json:"stream_kind"` // "backup", "restore" or "check"
	DB      string    `json:"db"`
	Started time.Time `json:"started"`
}

// liveStream is a registered stream.
type liveStream struct {
	info  StreamInfo
	stop  func()
	ended chan struct{} // closed when the stream has ended
}

// startStream registers a stream of kind on db: its context is cancelled
// by the stream's stop, by Drain, and with parent. done unregisters it.
func (s *Server) startStream(parent context.Context, kind, db string) (ctx context.Context, id string, done func()) {
	ctx, cancel := context.WithCancelCause(parent)
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand never fails on the systems Go supports
	id = hex.EncodeToString(b[:])
	s.mu.Lock()
	ls := &liveStream{info: StreamInfo{ID: id, Kind: kind, DB: db, Started: time.Now().UTC()}, stop: func() { cancel(errInterrupted) }, ended: make(chan struct{})}
	s.streams[id] = ls
	s.mu.Unlock()
	go func() {
		select {
		case <-s.drain:
			cancel(errServerStopping)
		case <-ctx.Done():
		}
	}()
	return ctx, id, func() {
		cancel(nil)
		s.mu.Lock()
		delete(s.streams, id)
		s.mu.Unlock()
		close(ls.ended)
	}
}

// listStreams answers GET /v1/streams: the running streams, oldest first,
// so that an operator can find one to stop (a restore that holds a lock,
// say).
func (s *Server) listStreams(w http.ResponseWriter, r *http.Request) {
	if err := known(r.URL.Query()); err != nil {
		writeError(w, err)
		return
	}
	s.mu.Lock()
	list := make([]StreamInfo, 0, len(s.streams))
	for _, st := range s.streams {
		list = append(list, st.info)
	}
	s.mu.Unlock()
	slices.SortFunc(list, func(a, b StreamInfo) int {
		if c := a.Started.Compare(b.Started); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	writeJSON(w, http.StatusOK, map[string][]StreamInfo{"streams": list})
}

// stopStream ends a running stream as SIGINT ends the local command:
// POST /v1/streams/{id}/stop. A backup ends as the local one does; a
// restore stops at a frame boundary, durable and resumable, and its
// client gets exit 130. Stopping a stream that has ended is no error.
func (s *Server) stopStream(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	st := s.streams[r.PathValue("id")]
	s.mu.Unlock()
	if st != nil {
		st.stop()
	}
	writeJSON(w, http.StatusOK, map[string]bool{"stopped": st != nil})
}
