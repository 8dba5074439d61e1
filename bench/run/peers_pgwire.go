package main

// A minimal PostgreSQL client (protocol 3.0, simple queries, trust
// authentication) for the one thing psql cannot do well: ask a server the
// same small question every millisecond and know when each answer came. It
// avoids a driver dependency; the bench's servers are local and trust the
// postgres user on their unix sockets.

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"strconv"
	"time"
)

// maxPGMessage bounds a message's length field, which comes from the
// server: a corrupt length must not make us allocate gigabytes.
const maxPGMessage = 64 << 20

// pgConn is one connection to a server.
type pgConn struct {
	c net.Conn
	r *bufio.Reader
}

// pgDial connects to the server on the unix socket of port in dir as user
// postgres to database postgres.
func pgDial(dir string, port int) (*pgConn, error) {
	c, err := net.DialTimeout("unix", filepath.Join(dir, ".s.PGSQL."+strconv.Itoa(port)), 5*time.Second)
	if err != nil {
		return nil, err
	}
	pc := &pgConn{c: c, r: bufio.NewReader(c)}
	if err := pc.startup("postgres", "postgres"); err != nil {
		c.Close()
		return nil, err
	}
	return pc, nil
}

func (pc *pgConn) Close() error { return pc.c.Close() }

func (pc *pgConn) startup(user, db string) error {
	var body []byte
	body = binary.BigEndian.AppendUint32(body, 3<<16) // protocol 3.0
	for _, s := range []string{"user", user, "database", db} {
		body = append(append(body, s...), 0)
	}
	body = append(body, 0)
	msg := binary.BigEndian.AppendUint32(nil, uint32(len(body)+4))
	if _, err := pc.c.Write(append(msg, body...)); err != nil {
		return err
	}
	for {
		t, m, err := readPGMessage(pc.r)
		if err != nil {
			return err
		}
		switch t {
		case 'R':
			if len(m) < 4 || binary.BigEndian.Uint32(m) != 0 {
				return errors.New("postgres: the server asks for a password; the bench's clusters trust local connections")
			}
		case 'E':
			return pgError(m)
		case 'Z':
			return nil
		}
	}
}

// query runs one simple query and returns its rows' text values (a NULL is
// the empty string).
func (pc *pgConn) query(sql string) ([][]string, error) {
	msg := append([]byte{'Q'}, binary.BigEndian.AppendUint32(nil, uint32(len(sql)+5))...)
	if _, err := pc.c.Write(append(append(msg, sql...), 0)); err != nil {
		return nil, err
	}
	var rows [][]string
	var qerr error
	for {
		t, m, err := readPGMessage(pc.r)
		if err != nil {
			return nil, err
		}
		switch t {
		case 'D':
			row, err := parseDataRow(m)
			if err != nil {
				return nil, err
			}
			rows = append(rows, row)
		case 'E':
			qerr = pgError(m)
		case 'Z':
			return rows, qerr
		}
	}
}

// readPGMessage reads one backend message: its type byte and body.
func readPGMessage(r io.Reader) (byte, []byte, error) {
	var h [5]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return 0, nil, err
	}
	n := binary.BigEndian.Uint32(h[1:])
	if n < 4 || n > maxPGMessage {
		return 0, nil, fmt.Errorf("postgres: message %q of length %d", h[0], n)
	}
	m := make([]byte, n-4)
	if _, err := io.ReadFull(r, m); err != nil {
		return 0, nil, err
	}
	return h[0], m, nil
}

// parseDataRow decodes a DataRow message's columns.
func parseDataRow(m []byte) ([]string, error) {
	bad := errors.New("postgres: malformed data row")
	if len(m) < 2 {
		return nil, bad
	}
	n := int(binary.BigEndian.Uint16(m))
	m = m[2:]
	row := make([]string, 0, min(n, len(m)/4))
	for i := 0; i < n; i++ {
		if len(m) < 4 {
			return nil, bad
		}
		l := int32(binary.BigEndian.Uint32(m))
		m = m[4:]
		if l < 0 {
			row = append(row, "")
			continue
		}
		if int64(l) > int64(len(m)) {
			return nil, bad
		}
		row, m = append(row, string(m[:l])), m[l:]
	}
	return row, nil
}

// pgError is an ErrorResponse's message.
func pgError(m []byte) error {
	msg := "unknown error"
	for len(m) > 1 {
		t := m[0]
		end := 1
		for end < len(m) && m[end] != 0 {
			end++
		}
		if t == 'M' {
			msg = string(m[1:end])
		}
		if end >= len(m) {
			break
		}
		m = m[end+1:]
	}
	return fmt.Errorf("postgres: %s", msg)
}
