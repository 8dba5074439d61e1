package main

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// A progress line is made of parts, each with a rank: the head (command,
// database, LSN x of y) is never dropped, and the higher a part's rank the
// sooner it goes when the line does not fit the terminal. Parts keep their
// order, which keeps the phrases scripts read ("LSN 3000 of 3000, 3000
// frames, ..., recovery point ..."). Lag ranks above rate: a following
// backup has no total, so lag is what it has to say.
const (
	rankHead = iota
	rankPercent
	rankETA
	rankLag
	rankRate
	rankBytes
	rankFrames
	rankRecovery
)

type linePart struct {
	text string
	rank int
}

// line is the progress line at now, at most width-1 columns (0: no limit).
func (p *progress) line(now time.Time, width int) string {
	return fit(p.parts(now), width)
}

// parts are what the progress line says at now, in order.
func (p *progress) parts(now time.Time) []linePart {
	elapsed := max(now.Sub(p.start).Seconds(), 1e-9)
	head := p.command
	switch {
	case p.db != "":
		head += " " + shown(p.db)
	case p.file != "":
		head += " " + shown(p.file)
	}
	if p.source != nil {
		head += " (following)"
	}
	head += fmt.Sprintf(": LSN %d", p.lsn)
	if p.total > 0 {
		head += fmt.Sprintf(" of %d", p.total)
	}
	bytes := size(p.bytes)
	if p.totalBytes > 0 {
		bytes += " of " + size(p.totalBytes)
	}
	parts := []linePart{{head, rankHead}, {fmt.Sprintf("%d frames", p.frames), rankFrames},
		{bytes, rankBytes}, {size(int64(float64(p.bytes)/elapsed)) + "/s", rankRate}}
	if e, ok := p.estimate(elapsed); ok {
		parts = append(parts, linePart{fmt.Sprintf("%d%%", int(e.percent)), rankPercent})
		if e.eta > 0 { // whole seconds, rounded up: "ETA 0s" would say it is done
			eta := time.Duration(math.Ceil(e.eta)) * time.Second
			parts = append(parts, linePart{"ETA " + eta.String(), rankETA})
		}
	}
	if p.source != nil {
		parts = append(parts, linePart{p.lagText(now), rankLag})
	}
	if p.lastTime != 0 {
		parts = append(parts, linePart{"recovery point " + commitTime(p.lastTime), rankRecovery})
	}
	return parts
}

// fit joins parts into a line of at most width-1 columns, dropping the
// highest-ranked parts first and cutting the line as a last resort; width
// 0 is no limit. The last column stays free: a line that fills it leaves
// the cursor waiting to wrap, and some terminals wrap at once.
func fit(parts []linePart, width int) string {
	keep := slices.Clone(parts)
	for width > 0 && lineLen(keep) > width-1 {
		worst := -1
		for i, pt := range keep {
			if pt.rank > rankHead && (worst < 0 || pt.rank > keep[worst].rank) {
				worst = i
			}
		}
		if worst < 0 {
			break
		}
		keep = slices.Delete(keep, worst, worst+1)
	}
	texts := make([]string, len(keep))
	for i, pt := range keep {
		texts[i] = pt.text
	}
	s := strings.Join(texts, ", ")
	if width > 0 && utf8.RuneCountInString(s) > width-1 {
		s = string([]rune(s)[:max(width-1, 0)])
	}
	return s
}

// lineLen is the width of parts joined with ", ". Names are shown quoted
// and escaped unless plain ASCII, so a rune is a column.
func lineLen(parts []linePart) int {
	n := 0
	for i, pt := range parts {
		if i > 0 {
			n += len(", ")
		}
		n += utf8.RuneCountInString(pt.text)
	}
	return n
}

// estimate is how far along a command is and how long it has to go.
type estimate struct {
	percent float64
	eta     float64 // seconds left; -1 when unknown (nothing handled yet)
}

// estimate returns the estimate after elapsed seconds, from LSNs when the
// last LSN is known (a frame is an LSN), else from bytes when their total
// is; false when neither is known.
func (p *progress) estimate(elapsed float64) (estimate, bool) {
	var done, left float64
	switch {
	case p.total > 0:
		done, left = float64(p.frames), float64(p.total-min(p.lsn, p.total))
	case p.totalBytes > 0:
		done, left = float64(p.bytes), float64(max(p.totalBytes-p.bytes, 0))
	default:
		return estimate{}, false
	}
	if left == 0 {
		return estimate{percent: 100}, true
	}
	e := estimate{percent: 100 * done / (done + left), eta: -1}
	if done > 0 {
		e.eta = left * elapsed / done
	}
	return e, true
}

// lag is how far behind the source a follower is: LSNs durable there and
// not yet handled, and how long ago the last frame handled was committed
// (0 when none is behind); known is false when that time is not known.
func (p *progress) lag(now time.Time) (lsns uint64, seconds float64, known bool) {
	src := p.source()
	lsns = src - min(p.lsn, src)
	switch {
	case lsns == 0:
		return 0, 0, true
	case p.lastTime == 0:
		return lsns, 0, false
	}
	return lsns, max(now.Sub(time.Unix(0, p.lastTime)).Seconds(), 0), true
}

// lagText says how far the output is behind the source: the LSNs durable
// there and not yet sent, and, when there are some, how long ago the last
// frame sent was committed (they were all committed after it).
func (p *progress) lagText(now time.Time) string {
	lsns, secs, known := p.lag(now)
	if !known {
		return fmt.Sprintf("lag %d LSNs", lsns)
	}
	d := time.Duration(secs * float64(time.Second))
	return fmt.Sprintf("lag %d LSNs (%s)", lsns, d.Round(time.Millisecond))
}

// progressRecord is a line of --progress=json, after restic's --json
// status lines. Keys whose value is not known are left out.
type progressRecord struct {
	Type           string   `json:"type"` // "progress"
	Command        string   `json:"command"`
	DB             string   `json:"db,omitempty"`
	File           string   `json:"file,omitempty"`
	LSN            uint64   `json:"lsn"`               // last LSN handled
	EndLSN         uint64   `json:"end_lsn,omitempty"` // last LSN expected
	Frames         uint64   `json:"frames"`
	Bytes          int64    `json:"bytes"`
	TotalBytes     int64    `json:"total_bytes,omitempty"`
	Seconds        float64  `json:"seconds"` // since the command started
	BytesPerSecond float64  `json:"bytes_per_second"`
	Percent        *float64 `json:"percent,omitempty"`
	ETASeconds     *float64 `json:"eta_seconds,omitempty"`
	LagLSNs        *uint64  `json:"lag_lsns,omitempty"`
	LagSeconds     *float64 `json:"lag_seconds,omitempty"`
	LastCommit     string   `json:"last_commit,omitempty"` // RFC 3339, UTC: the recovery point
	Done           bool     `json:"done"`
}

// jsonLine is the state at now as a line of --progress=json.
func (p *progress) jsonLine(now time.Time, done bool) []byte {
	elapsed := max(now.Sub(p.start).Seconds(), 1e-9)
	r := progressRecord{Type: "progress", Command: p.command, DB: p.db, LSN: p.lsn, EndLSN: p.total,
		Frames: p.frames, Bytes: p.bytes, TotalBytes: p.totalBytes, Seconds: roundTo(elapsed, 3),
		BytesPerSecond: roundTo(float64(p.bytes)/elapsed, 0), Done: done}
	if e, ok := p.estimate(elapsed); ok {
		pct := math.Floor(e.percent*100) / 100 // 100 only when done
		r.Percent = &pct
		if e.eta >= 0 {
			eta := roundTo(e.eta, 3)
			r.ETASeconds = &eta
		}
	}
	if p.source != nil {
		lsns, secs, known := p.lag(now)
		r.LagLSNs = &lsns
		if known {
			secs = roundTo(secs, 3)
			r.LagSeconds = &secs
		}
	}
	if p.lastTime != 0 {
		r.LastCommit = commitTime(p.lastTime)
	}
	if p.file != "" {
		r.File = jsonFile(p.file)
	}
	b, err := json.Marshal(r)
	if err != nil { // only NaN or an infinity could fail, and none is made above
		return nil
	}
	return append(b, '\n')
}

// roundTo rounds x to n decimals.
func roundTo(x float64, n int) float64 {
	m := math.Pow10(n)
	return math.Round(x*m) / m
}
