package repo

import (
	"errors"
	"fmt"
	"time"

	"github.com/hotpipe/hotpipe/txframe"
)

// ErrEmpty means a history has no object a restore could start from.
var ErrEmpty = errors.New("no object to restore from")

// Plan returns the objects a restore reads to bring a database from LSN
// from (1 for a full restore; a standby's last LSN + 1 to catch it up)
// through LSN target (0: as far as the repository goes), in order, with
// the fewest bytes. The first object holds LSN from (frames before it are
// skipped by the restore, which compares their hash); each next one
// starts right after the one before ends, as a stream's segments must.
// A target before from needs nothing: the plan is empty.
// When target cannot be reached, the error is a *txframe.GapError naming
// the LSNs the repository lacks (errors.Is txframe.ErrGap).
func (h *History) Plan(from, target uint64) ([]Entry, error) {
	if from == 0 {
		from = 1
	}
	best, prev := h.paths(from)
	end := target
	if target == 0 {
		for e := range best {
			end = max(end, e-1)
		}
		if end < from {
			return nil, fmt.Errorf("%s: %w at LSN %d", h.name(), ErrEmpty, from)
		}
	}
	// The cheapest path to any state past end: a state is the next LSN
	// needed, so state s > end means LSNs through end are in hand.
	goal, found := uint64(0), false
	for s, c := range best {
		if s > end && (!found || c.less(best[goal]) || c == best[goal] && s < goal) {
			goal, found = s, true
		}
	}
	if !found {
		return nil, h.gap(from, end, best)
	}
	var plan []Entry
	for s := goal; s != from; {
		o := h.Objects[prev[s]]
		plan = append(plan, o)
		s = stateBefore(o, from)
	}
	for i, j := 0, len(plan)-1; i < j; i, j = i+1, j-1 {
		plan[i], plan[j] = plan[j], plan[i]
	}
	return plan, nil
}

// cost orders paths: fewest bytes, then fewest objects.
type cost struct {
	bytes   int64
	objects int
}

func (c cost) less(d cost) bool {
	return c.bytes < d.bytes || c.bytes == d.bytes && c.objects < d.objects
}

// paths finds, for every state (the next LSN needed) reachable from from,
// the cheapest way there and the index of the object that last led there.
// Objects are in LSN order and every object moves the state forward, so
// one pass in state order settles each state before it is left.
func (h *History) paths(from uint64) (map[uint64]cost, map[uint64]int) {
	best := map[uint64]cost{from: {}}
	prev := map[uint64]int{}
	byFirst := map[uint64][]int{}
	for i, o := range h.Objects {
		byFirst[o.First] = append(byFirst[o.First], i)
	}
	relax := func(s uint64, i int) {
		o := h.Objects[i]
		next, c := o.Last+1, best[s]
		c.bytes, c.objects = c.bytes+o.Size, c.objects+1
		if old, ok := best[next]; !ok || c.less(old) {
			best[next], prev[next] = c, i
		}
	}
	for i, o := range h.Objects { // the first object may start before from
		if o.First <= from && from <= o.Last {
			relax(from, i)
		}
	}
	for _, o := range h.Objects { // objects are in First order: states settle in order
		if _, ok := best[o.First]; ok && o.First != from {
			for _, i := range byFirst[o.First] {
				relax(o.First, i)
			}
			delete(byFirst, o.First)
		}
	}
	return best, prev
}

// stateBefore is the state an object of a plan was taken from.
func stateBefore(o Entry, from uint64) uint64 {
	if o.First <= from {
		return from
	}
	return o.First
}

// gap names what a restore from from through end lacks: the LSNs between
// the furthest state reached and the next object after it.
func (h *History) gap(from, end uint64, best map[uint64]cost) error {
	reached := from
	for s := range best {
		reached = max(reached, s)
	}
	to := end
	for _, o := range h.Objects {
		if o.First > reached {
			to = min(to, o.First-1)
			break
		}
	}
	return fmt.Errorf("%s: %w", h.name(), &txframe.GapError{From: reached, To: to})
}

// LastBefore returns the LSN a restore to time t must reach: the last LSN
// of the first object of the history's chain from LSN 1 that holds a
// frame committed after t (every frame at or before t is in it or before
// it); 0 when no object holds one, so that the whole chain is needed.
func (h *History) LastBefore(t time.Time) uint64 {
	chain, err := h.Plan(1, 0)
	if err != nil {
		return 0
	}
	for _, o := range chain {
		if o.LastTime.After(t) {
			return o.Last
		}
	}
	return 0
}

func (h *History) name() string { return h.DB + " (origin " + h.Origin.String() + ")" }
