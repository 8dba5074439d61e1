package server

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/hotpipe/hotpipe/engine"
)

// Databases is what GET /v1/databases answers: `db list --json`'s figures.
type Databases struct {
	DataDir   string   `json:"data_dir"`
	Databases []string `json:"databases"`
}

// Status is a database's status: what GET /v1/databases/{db} answers, and
// `db status --json` prints.
type Status struct {
	Name       string         `json:"db"`
	Origin     string         `json:"origin"`
	LastLSN    uint64         `json:"last_lsn"`
	StateHash  string         `json:"hash"`
	Frames     uint64         `json:"frames"`
	Bytes      int64          `json:"bytes"`
	LastCommit *time.Time     `json:"last_commit,omitempty"`
	Replica    bool           `json:"replica"`
	Created    time.Time      `json:"created"`
	Lock       *engine.Holder `json:"lock_holder,omitempty"`
}

// StatusOf reads the status of the database name in dataDir, as a reader.
func StatusOf(dataDir, name string, opts engine.Options) (Status, error) {
	opts.ReadOnly = true
	db, err := engine.Open(dataDir, name, opts)
	if err != nil {
		return Status{}, err
	}
	defer db.Close()
	s, err := db.Status()
	if err != nil {
		return Status{}, err
	}
	st := Status{Name: s.Meta.Name, Origin: s.Meta.Origin.String(), LastLSN: s.LastLSN, StateHash: s.StateHash.String(),
		Frames: s.LastLSN, Bytes: s.Bytes, Replica: s.Meta.Replica, Created: s.Meta.Created}
	if s.LastLSN > 0 {
		t := s.LastCommit.UTC()
		st.LastCommit = &t
	}
	if s.Locked {
		st.Lock = &s.Holder
	}
	return st, nil
}

func (s *Server) databases(w http.ResponseWriter, r *http.Request) {
	if err := known(r.URL.Query()); err != nil {
		writeError(w, err)
		return
	}
	names, err := engine.List(s.opts.DataDir)
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, Databases{DataDir: s.opts.DataDir, Databases: append([]string{}, names...)})
}

func (s *Server) status(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("db")
	err := known(r.URL.Query())
	if err == nil {
		err = engine.ValidateName(name)
	}
	if err != nil {
		writeError(w, err)
		return
	}
	st, err := StatusOf(s.opts.DataDir, name, engine.Options{})
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, st)
}

// Databases lists the server's databases.
func (c *Client) Databases(ctx context.Context) (Databases, error) {
	var d Databases
	return d, c.getJSON(ctx, "/v1/databases", &d)
}

// Status reads the status of the server's database db.
func (c *Client) Status(ctx context.Context, db string) (Status, error) {
	var st Status
	return st, c.getJSON(ctx, "/v1/databases/"+url.PathEscape(db), &st)
}

// Hash is a database's state hash at an LSN: what GET
// /v1/databases/{db}/hash answers.
type Hash struct {
	DB   string `json:"db"`
	LSN  uint64 `json:"lsn"`
	Hash string `json:"hash"`
}

// Last, as an LSN, means the last durable one.
const Last = ^uint64(0)

// HashOf reads h(lsn) of the database name in dataDir, as a reader; lsn
// Last is the last durable LSN, and h(0) is the zero hash.
func HashOf(dataDir, name string, lsn uint64, opts engine.Options) (Hash, error) {
	opts.ReadOnly = true
	db, err := engine.Open(dataDir, name, opts)
	if err != nil {
		return Hash{}, err
	}
	defer db.Close()
	last, h, err := db.State()
	if err != nil {
		return Hash{}, err
	}
	if lsn == Last {
		lsn = last
	} else if h, err = db.HashAt(lsn); err != nil {
		return Hash{}, err
	}
	return Hash{DB: db.Name(), LSN: lsn, Hash: h.String()}, nil
}

// hash answers GET /v1/databases/{db}/hash[?lsn=N]: h(N), or at the
// last durable LSN without N.
func (s *Server) hash(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("db")
	q := r.URL.Query()
	err := known(q, "lsn")
	lsn := Last
	if err == nil && q.Has("lsn") {
		lsn, err = lsnParam(q, "lsn")
	}
	if err == nil {
		err = engine.ValidateName(name)
	}
	if err != nil {
		writeError(w, err)
		return
	}
	h, err := HashOf(s.opts.DataDir, name, lsn, engine.Options{})
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, h)
}

// Hash reads h(lsn) of the server's database db; lsn Last is its last
// durable LSN.
func (c *Client) Hash(ctx context.Context, db string, lsn uint64) (Hash, error) {
	path := "/v1/databases/" + url.PathEscape(db) + "/hash"
	if lsn != Last {
		path += "?lsn=" + strconv.FormatUint(lsn, 10)
	}
	var h Hash
	return h, c.getJSON(ctx, path, &h)
}
