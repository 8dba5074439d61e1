package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/hotpipe/hotpipe/engine"
	"github.com/hotpipe/hotpipe/server"
)

func dbCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:            "db",
		Usage:           "create, list and inspect databases",
		HideHelpCommand: true,
		Action:          groupAction(e, "db"),
		Subcommands: []*cli.Command{dbCreateCommand(e), dbListCommand(e), dbStatusCommand(e),
			dbHashCommand(e), dbPositionCommand(e), dbReplicaCommand(e), dbCheckCommand(e)},
	}
}

func dbCreateCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:      "create",
		Usage:     "create an empty database",
		ArgsUsage: "DB",
		Description: `Creates DB under the data directory with a fresh origin id. Names match
^[a-z0-9][a-z0-9_-]{0,62}$.

--segment-size SIZE sets where writers start a new segment file (4KiB to
1GiB; default 64MiB; SI and IEC units mean what they say: 64MB is 64,000,000
bytes, 64MiB 67,108,864). Every finished segment is sealed, so opening
the database checks its structure with one small read per segment.

Examples:
   hotpipe db create foo
   hotpipe db create foo --segment-size 256MiB`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "segment-size", Usage: "start a new segment file at `SIZE` bytes (4KiB..1GiB; default 64MiB)"},
		},
		Action: e.dbCreate,
	}
}

func dbListCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:        "list",
		Usage:       "list the databases in the data directory",
		Description: "Prints one database name per line on stdout; with --addr, the server's.\n\nExamples:\n   hotpipe --data-dir /var/lib/hotpipe db list\n   hotpipe db list --json\n   hotpipe db list --addr db1:9899",
		Flags:       []cli.Flag{jsonFlag(), addrFlag()},
		Action:      e.dbList,
	}
}

func dbStatusCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:      "status",
		Usage:     "print a database's state",
		ArgsUsage: "DB",
		Description: `Prints name, origin, last LSN, state hash, frames, bytes, last commit time,
replica mode and the writer lock's holder. Works while a writer commits.

With --addr, the status of the server's database of that name.

Examples:
   hotpipe db status foo
   hotpipe db status foo --json
   hotpipe db status foo --addr db1:9899`,
		Flags:  []cli.Flag{jsonFlag(), addrFlag()},
		Action: e.dbStatus,
	}
}

func dbHashCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:      "hash",
		Usage:     "print the state hash at an LSN",
		ArgsUsage: "DB [LSN]",
		Description: `Prints "LSN HASH" on stdout: the chained state hash h(LSN) of DB, at its last
durable LSN when none is given. Two databases with the same LSN and hash
have identical histories up to it. Takes no lock.

Examples:
   hotpipe db hash foo
   hotpipe db hash bar 1000
   hotpipe db hash foo --json
   hotpipe db hash foo --addr db1:9899`,
		Flags:  []cli.Flag{jsonFlag(), addrFlag()},
		Action: e.dbHash,
	}
}

func dbReplicaCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:      "replica",
		Usage:     "show or switch a database's replica mode",
		ArgsUsage: "DB [on|off]",
		Description: `A replica refuses ordinary commits and accepts only frames applied by
hot-restore. With no mode given, prints the current one ("on" or "off").
Switching needs the writer lock.

Examples:
   hotpipe db replica foo
   hotpipe db replica foo off`,
		Action: e.dbReplica,
	}
}

// args checks the positional argument count.
func args(c *cli.Context, min, max int) error {
	n := c.NArg()
	if n < min || n > max {
		want := c.Command.ArgsUsage
		if want == "" {
			want = "no arguments"
		}
		return usagef("%s: expects %s, got %d argument(s)", commandPath(c), want, n)
	}
	return nil
}

// commandPath names the running command as typed, e.g. "db create".
func commandPath(c *cli.Context) string {
	var names []string
	for _, ctx := range c.Lineage() {
		// The top of the lineage is the app itself: errors already start
		// with "hotpipe: ".
		if ctx.Command != nil && ctx.Command.Name != "" && ctx.Command.Name != c.App.Name {
			names = append([]string{ctx.Command.Name}, names...)
		}
	}
	return strings.Join(names, " ")
}

func (e *env) open(name string, readOnly bool) (*engine.DB, error) {
	return engine.Open(e.dataDir, name, engine.Options{ReadOnly: readOnly, Notify: e.notify})
}

// notify prints an engine notice (a recovery, say): always, even with -q.
func (e *env) notify(msg string) { fmt.Fprintf(e.stderr, "hotpipe: %s\n", msg) }

func (e *env) dbCreate(c *cli.Context) error {
	if err := args(c, 1, 1); err != nil {
		return err
	}
	var co engine.CreateOptions
	if v := c.String("segment-size"); v != "" {
		size, err := parseSize(v)
		if err != nil || size < engine.MinSegmentSize || size > engine.MaxSegmentSize {
			return usagef("db create: --segment-size %q: %v", v, engine.ErrSegmentSize)
		}
		co.SegmentSize = int64(size)
	}
	m, err := engine.Create(e.dataDir, c.Args().First(), co)
	if err != nil {
		return err
	}
	e.notef("created database %s (origin %s)", m.Name, m.Origin)
	return nil
}

func (e *env) dbList(c *cli.Context) error {
	if err := args(c, 0, 0); err != nil {
		return err
	}
	dataDir, names, err := e.listDatabases(c)
	if err != nil {
		return err
	}
	if e.asJSON {
		e.report = &listReport{DataDir: dataDir, Databases: append([]string{}, names...)}
		return nil
	}
	for _, n := range names {
		fmt.Fprintln(e.stdout, n)
	}
	return nil
}

// listDatabases lists the databases of the data directory, or of the
// server --addr names.
func (e *env) listDatabases(c *cli.Context) (dataDir string, names []string, err error) {
	if c.String("addr") != "" {
		cl, err := e.client(c)
		if err != nil {
			return "", nil, err
		}
		d, err := cl.Databases(c.Context)
		return d.DataDir, d.Databases, err
	}
	names, err = engine.List(e.dataDir)
	if err != nil {
		return "", nil, err
	}
	if _, err := os.Stat(e.dataDir); errors.Is(err, fs.ErrNotExist) {
		e.warnf("data directory %s does not exist: no databases (--data-dir or HOTPIPE_DATA_DIR names another)", e.dataDir)
	}
	return e.dataDir, names, nil
}

// listReport is what db list --json prints.
type listReport struct {
	head
	DataDir   string   `json:"data_dir"`
	Databases []string `json:"databases"`
}

// status is what `db status` reports (the server's, for --addr).
type status = server.Status

func (e *env) dbStatus(c *cli.Context) error {
	if err := args(c, 1, 1); err != nil {
		return err
	}
	st, err := e.readStatus(c, c.Args().First())
	if err != nil {
		return err
	}
	if e.asJSON {
		e.report = &statusReport{status: st}
		return nil
	}
	printStatus(e, st)
	return nil
}

// statusReport is what db status --json prints.
type statusReport struct {
	head
	status
}

// readStatus reads the status of database name, or of the server's
// database of that name with --addr.
func (e *env) readStatus(c *cli.Context, name string) (status, error) {
	if c.String("addr") == "" {
		return server.StatusOf(e.dataDir, name, engine.Options{Notify: e.notify})
	}
	if err := engine.ValidateName(name); err != nil {
		return status{}, err
	}
	cl, err := e.client(c)
	if err != nil {
		return status{}, err
	}
	return cl.Status(c.Context, name)
}

func printStatus(e *env, st status) {
	w := e.stdout
	fmt.Fprintf(w, "name:        %s\n", st.Name)
	fmt.Fprintf(w, "origin:      %s\n", st.Origin)
	fmt.Fprintf(w, "last LSN:    %d\n", st.LastLSN)
	fmt.Fprintf(w, "state hash:  %s\n", st.StateHash)
	fmt.Fprintf(w, "frames:      %d\n", st.Frames)
	fmt.Fprintf(w, "bytes:       %d\n", st.Bytes)
	last := "never"
	if st.LastCommit != nil {
		last = st.LastCommit.Format(time.RFC3339Nano)
	}
	fmt.Fprintf(w, "last commit: %s\n", last)
	fmt.Fprintf(w, "replica:     %s\n", onOff(st.Replica))
	fmt.Fprintf(w, "created:     %s\n", st.Created.Format(time.RFC3339))
	lock := "free"
	if st.Lock != nil {
		lock = "held by " + st.Lock.String()
	}
	fmt.Fprintf(w, "writer lock: %s\n", lock)
}

func onOff(b bool) string {
	if b {
		return "on"
	}
	return "off"
}

func dbPositionCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:      "position",
		Usage:     "print a database's last durable LSN, 0 if it is empty or absent",
		ArgsUsage: "DB",
		Description: `Prints the last durable LSN of DB on stdout: 0 when DB is empty or does not
exist yet. It is where a standby stands, for hot-backup --after: one command
starts a new standby and restarts an existing one from where it is.

Examples:
   hotpipe hot-backup foo --follow --after "$(hotpipe db position foo2)" \
     | hotpipe hot-restore foo2 --append --force-replica
   hotpipe db position foo2 --json`,
		Flags:  []cli.Flag{jsonFlag()},
		Action: e.dbPosition,
	}
}

func (e *env) dbPosition(c *cli.Context) error {
	if err := args(c, 1, 1); err != nil {
		return err
	}
	name := c.Args().First()
	db, err := e.open(name, true)
	var lsn uint64
	switch {
	case errors.Is(err, engine.ErrNotFound): // where a new standby starts
	case err != nil:
		return err
	default:
		defer db.Close()
		if lsn, _, err = db.State(); err != nil {
			return err
		}
	}
	if e.asJSON {
		e.report = &positionReport{DB: name, Exists: db != nil, LastLSN: lsn}
		return nil
	}
	fmt.Fprintln(e.stdout, lsn)
	return nil
}

// positionReport is what db position --json prints.
type positionReport struct {
	head
	DB      string `json:"db"`
	Exists  bool   `json:"exists"`
	LastLSN uint64 `json:"last_lsn"`
}

// hashReport is what db hash --json prints: h(LSN) of DB.
type hashReport struct {
	head
	DB   string `json:"db"`
	LSN  uint64 `json:"lsn"`
	Hash string `json:"hash"`
}

func (e *env) dbHash(c *cli.Context) error {
	if err := args(c, 1, 2); err != nil {
		return err
	}
	name := c.Args().Get(0)
	lsn := server.Last
	if c.NArg() == 2 {
		var err error
		if lsn, err = strconv.ParseUint(c.Args().Get(1), 10, 64); err != nil || lsn == server.Last {
			return usagef("db hash: LSN %q is not a number", c.Args().Get(1))
		}
	}
	var h server.Hash
	var err error
	if c.String("addr") == "" {
		h, err = server.HashOf(e.dataDir, name, lsn, engine.Options{Notify: e.notify})
	} else if err = engine.ValidateName(name); err == nil {
		var cl *server.Client
		if cl, err = e.client(c); err == nil {
			h, err = cl.Hash(c.Context, name, lsn)
		}
	}
	if err != nil {
		return err
	}
	if e.asJSON {
		e.report = &hashReport{DB: h.DB, LSN: h.LSN, Hash: h.Hash}
		return nil
	}
	fmt.Fprintf(e.stdout, "%d %s\n", h.LSN, h.Hash)
	return nil
}

func (e *env) dbReplica(c *cli.Context) error {
	if err := args(c, 1, 2); err != nil {
		return err
	}
	name := c.Args().Get(0)
	if c.NArg() == 1 {
		db, err := e.open(name, true)
		if err != nil {
			return err
		}
		defer db.Close()
		m, err := db.Meta()
		if err != nil {
			return err
		}
		fmt.Fprintln(e.stdout, onOff(m.Replica))
		return nil
	}
	mode := c.Args().Get(1)
	if mode != "on" && mode != "off" {
		return usagef("db replica: mode must be \"on\" or \"off\", not %q", mode)
	}
	db, err := e.open(name, false)
	if err != nil {
		return err
	}
	defer db.Close()
	if err := db.SetReplica(mode == "on"); err != nil {
		return err
	}
	e.notef("%s: replica mode %s", name, mode)
	return db.Close()
}
