package main

import (
	"fmt"
	"io"
	"os"
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
	rc, err := f.SyscallConn()
	if err != nil {
		return false
	}
	tty := false
	rc.Control(func(fd uintptr) { tty = term.IsTerminal(int(fd)) })
	return tty
}

// progress reports a long command's advance on stderr: bytes, frames, LSN x
// of y, rate and ETA. On a terminal it redraws one line; elsewhere it prints
// a line per interval.
type progress struct {
	w        io.Writer
	on, tty  bool
	verb     string
	start    time.Time
	next     time.Time
	every    time.Duration
	total    uint64 // last LSN expected, 0 if unknown
	first    uint64
	lsn      uint64
	frames   uint64
	bytes    int64
	lastTime int64 // commit time of the last frame handled: the recovery point
	// source, when following, returns the source's durable LSN, for the lag.
	source func() uint64
	drawn  bool
}

func (e *env) newProgress(verb string, first, total uint64) *progress {
	p := &progress{w: e.stderr, on: e.progress, tty: isTerminal(e.stderr), verb: verb, first: first, total: total,
		start: time.Now(), every: time.Second}
	if p.tty {
		p.every = 200 * time.Millisecond
	}
	p.next = p.start.Add(p.every)
	return p
}

// add records a block of frames and redraws when the interval has passed.
func (p *progress) add(frames uint64, bytes int, last uint64, lastTime int64) {
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

func (p *progress) draw(now time.Time) {
	elapsed := now.Sub(p.start).Seconds()
	line := fmt.Sprintf("%s: LSN %d", p.verb, p.lsn)
	if p.total > 0 {
		line += fmt.Sprintf(" of %d", p.total)
	}
	line += fmt.Sprintf(", %d frames, %s, %s/s", p.frames, size(p.bytes), size(int64(float64(p.bytes)/elapsed)))
	if p.total > p.lsn && p.lsn >= p.first && p.frames > 0 {
		eta := time.Duration(float64(p.total-p.lsn) * elapsed / float64(p.frames) * float64(time.Second))
		line += fmt.Sprintf(", ETA %s", eta.Round(time.Second))
	}
	if p.source != nil {
		line += p.lagText(now)
	}
	line += p.recoveryPoint()
	if p.tty {
		fmt.Fprintf(p.w, "\r\033[K%s", line)
		p.drawn = true
	} else {
		fmt.Fprintln(p.w, line)
	}
}

// finish draws the final state once, so that --progress always shows at
// least one line, and ends a redrawn line so what follows starts on its own.
func (p *progress) finish() {
	if !p.on {
		return
	}
	p.draw(time.Now())
	if p.drawn {
		fmt.Fprintln(p.w)
		p.drawn = false
	}
}

// lagText says how far the output is behind the source: the LSNs durable
// there and not yet sent, and, when there are some, how long ago the last
// frame sent was committed (they were all committed after it).
func (p *progress) lagText(now time.Time) string {
	behind := p.source() - min(p.lsn, p.source())
	if behind == 0 || p.lastTime == 0 {
		return ", lag 0 LSNs (0s)"
	}
	return fmt.Sprintf(", lag %d LSNs (%s)", behind, max(now.Sub(time.Unix(0, p.lastTime)), 0).Round(time.Millisecond))
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
