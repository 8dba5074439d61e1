package main

import (
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/term"
)

// isTerminal reports whether w is a terminal. /dev/null is a character
// device too, so the question goes to the terminal driver. The descriptor
// is used through SyscallConn: f.Fd() would switch it to blocking mode.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	if err != nil || fi.Mode()&os.ModeCharDevice == 0 {
		return false
	}
	tty := false
	withFd(f, func(fd int) { tty = term.IsTerminal(fd) })
	return tty
}

// withFd calls fn with f's descriptor, without f.Fd()'s switch to blocking
// mode; fn is not called when f has none.
func withFd(f *os.File, fn func(fd int)) {
	if rc, err := f.SyscallConn(); err == nil {
		rc.Control(func(fd uintptr) { fn(int(fd)) })
	}
}

// terminalWidth is the width in columns of the terminal f: as the terminal
// says, else $COLUMNS, else 80. A new pseudo-terminal says 0 until someone
// sets its size.
func terminalWidth(f *os.File) int {
	cols := 0
	if f != nil {
		withFd(f, func(fd int) { cols, _, _ = term.GetSize(fd) })
	}
	if cols > 0 {
		return cols
	}
	if n, err := strconv.Atoi(os.Getenv("COLUMNS")); err == nil && n > 0 {
		return n
	}
	return 80
}

// progressMode is how progress is shown.
type progressMode int

const (
	progressAuto progressMode = iota // not chosen: text when stderr is a terminal and -q is not given
	progressOff
	progressText
	progressJSON
)

// progressFlag is --progress's value (and HOTPIPE_PROGRESS's): true, on, 1
// or nothing for text, false, off or 0 for none, json for JSON lines. To
// the flag package it is a boolean flag (IsBoolFlag), so a plain
// --progress means on and never takes the next argument: the format is
// given with =, --progress=json (main's permute knows this through
// takesArg).
type progressFlag struct{ mode progressMode }

// Set parses a --progress value.
func (f *progressFlag) Set(v string) error {
	switch strings.ToLower(v) {
	case "true", "on", "1":
		f.mode = progressText
	case "false", "off", "0":
		f.mode = progressOff
	case "json":
		f.mode = progressJSON
	default:
		return fmt.Errorf("%q is not one of true, on, 1, false, off, 0 or json", v)
	}
	return nil
}

func (f *progressFlag) String() string {
	switch f.mode {
	case progressOff:
		return "false"
	case progressText:
		return "true"
	case progressJSON:
		return "json"
	}
	return ""
}

// IsBoolFlag makes a plain --progress mean --progress=true.
func (f *progressFlag) IsBoolFlag() bool { return true }

// progressEvery is how often progress is shown: a redrawn line often, a
// line that scrolls or a JSON object once a second.
const (
	progressEvery    = time.Second
	progressEveryTTY = 200 * time.Millisecond
)

// progress reports a long command's advance on stderr: LSN x of y, frames,
// bytes, rate, percent and ETA when the total is known, lag and recovery
// point. It shows one of three ways:
//
//   - on a terminal, one line redrawn in place (\r and erase to its end),
//     fitted to the terminal's width by dropping its least important parts
//     (it never wraps, which would leave a trail of lines);
//   - elsewhere, a whole line per interval;
//   - with --progress=json, a JSON object per line per interval and a last
//     one with "done": true.
//
// One line per terminal: every hotpipe process of a pipeline
// (hot-backup | hot-restore) may have the same terminal as stderr. Before
// drawing, a process takes an exclusive flock on a new open of the
// terminal, without waiting (ttyLock); the holder draws until finish, then
// ends its line and lets go; one that cannot get it draws nothing and tries
// again at its next interval, so it takes over when the other is done.
// Whatever else the process writes to stderr meanwhile (its summary,
// warnings) starts by erasing the line it may be written over (lineGuard),
// and finish's last line is one whole line written at once, so a
// process's lines never end up inside another's.
type progress struct {
	mu         sync.Mutex
	w          io.Writer
	on, tty    bool
	json       bool
	command    string // "hot-backup"
	db         string // the database handled, if any
	file       string // else the input being read (verify)
	start      time.Time
	next       time.Time
	every      time.Duration
	total      uint64 // last LSN expected, 0 if unknown
	totalBytes int64  // bytes expected, 0 if unknown (a regular file being read, say)
	first      uint64 // first LSN expected (the percentage counts frames: it needs no first)
	lsn        uint64
	frames     uint64
	bytes      int64
	lastTime   int64 // commit time of the last frame handled: the recovery point
	// source, when following, returns the source's durable LSN, for the lag.
	source func() uint64

	width   func() int // the terminal's width, asked at each draw
	lock    ttyLock    // the terminal's lock, once opened; nil: draw without one
	opened  bool       // the lock was tried to be opened
	holding bool
}

// newProgress makes the progress display of command (hot-backup) handling
// db, expecting LSNs first..total (0: unknown). It shows what --progress
// asked for; by default text when stderr is a terminal and -q was not
// given. When it redraws a line on a terminal, later writes to e.stderr go
// through a lineGuard.
func (e *env) newProgress(command, db string, first, total uint64) *progress {
	p := &progress{w: e.stderr, tty: isTerminal(e.stderr), command: command, db: db, first: first, total: total,
		start: time.Now(), every: progressEvery, width: func() int { return 80 }}
	switch e.progress.mode {
	case progressAuto:
		p.on = p.tty && !e.quiet
	case progressText:
		p.on = true
	case progressJSON:
		p.on, p.json = true, true
	}
	if p.tty && !p.json {
		p.every = progressEveryTTY
		f := e.stderr.(*os.File)
		p.width = func() int { return terminalWidth(f) }
		if p.on {
			e.stderr = &lineGuard{p: p, w: e.stderr}
		}
	}
	p.next = p.start.Add(p.every)
	return p
}

// add records a block of frames and redraws when the interval has passed.
func (p *progress) add(frames uint64, bytes int, last uint64, lastTime int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.frames += frames
	p.bytes += int64(bytes)
	p.lsn, p.lastTime = last, lastTime
	if !p.on {
		return
	}
	if now := time.Now(); now.After(p.next) {
		p.next = now.Add(p.every)
		p.draw(now)
	}
}

// draw shows the state at now.
func (p *progress) draw(now time.Time) {
	switch {
	case p.json:
		p.w.Write(p.jsonLine(now, false))
	case !p.tty:
		fmt.Fprintln(p.w, p.line(now, 0))
	case p.takeLine():
		io.WriteString(p.w, "\r\033[K"+p.line(now, p.width()))
	}
}

// takeLine reports whether this process may draw on the terminal: it holds
// the terminal's lock, or gets it now, or there is no lock to be had.
func (p *progress) takeLine() bool {
	if p.holding {
		return true
	}
	if !p.opened {
		p.opened = true
		if f, ok := p.w.(*os.File); ok {
			p.lock = openTTYLock(f)
		}
	}
	if p.lock == nil {
		return true
	}
	p.holding = p.lock.tryLock()
	return p.holding
}

// finish shows the final state once, so that --progress always shows at
// least one line. On a terminal that line is ended, written whole in one
// write (over another process's line, if it holds the terminal: that one
// is redrawn below at its next interval), and the terminal let go.
func (p *progress) finish() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.on {
		return
	}
	now := time.Now()
	switch {
	case p.json:
		p.w.Write(p.jsonLine(now, true))
	case !p.tty:
		fmt.Fprintln(p.w, p.line(now, 0))
	default:
		io.WriteString(p.w, "\r\033[K"+p.line(now, p.width())+"\n")
		if p.lock != nil {
			p.lock.unlock()
			p.lock, p.holding = nil, false
		}
	}
}

// lineGuard is stderr for the rest of a process that redraws a progress
// line on it. A write that starts a line first erases the line it would
// land on, in the same write: this process's own progress line (redrawn at
// the next interval) or another process's, so a summary or warning never
// ends up glued to a progress line. At the start of an empty line the
// erase does nothing.
type lineGuard struct {
	p   *progress
	w   io.Writer
	mid bool // the last write did not end its line
}

func (g *lineGuard) Write(b []byte) (int, error) {
	g.p.mu.Lock()
	defer g.p.mu.Unlock()
	if g.mid || len(b) == 0 {
		if len(b) > 0 {
			g.mid = b[len(b)-1] != '\n'
		}
		return g.w.Write(b)
	}
	const erase = "\r\033[K"
	n, err := g.w.Write(append([]byte(erase), b...))
	g.mid = b[len(b)-1] != '\n'
	return max(n-len(erase), 0), err
}

// recoveryPoint names the commit time of the last frame handled.
func (p *progress) recoveryPoint() string {
	if p.lastTime == 0 {
		return ""
	}
	return ", recovery point " + commitTime(p.lastTime)
}

// summary says how much was handled, how fast, for a command's last line.
func (p *progress) summary() string {
	d := time.Since(p.start)
	s := max(d.Seconds(), 1e-9)
	fps, bps := float64(p.frames)/s, float64(p.bytes)/s
	return fmt.Sprintf("%d frames, %s in %.2fs (%.0f frames/s, %s/s)", p.frames, size(p.bytes), d.Seconds(), fps, size(int64(bps)))
}

// size formats a byte count for people.
func size(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.2f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

// commitTime formats a frame's commit time.
func commitTime(ns int64) string {
	return time.Unix(0, ns).UTC().Format(time.RFC3339Nano)
}
