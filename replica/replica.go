package replica

import (
	"errors"
	"fmt"

	"github.com/hotpipe/hotpipe/txframe"
)

// Errors of refused restores, grouped here. Each is wrapped with the
// database's name and the LSNs concerned; callers test them with
// errors.Is. Gaps and different histories are txframe.ErrGap and
// txframe.ErrHistory (the engine's and the stream reader's too), so every
// caller maps a history problem to one exit code.
var (
	// ErrHasData means a restore without Append into a database with data.
	ErrHasData = errors.New("database has data")
	// ErrNotReplica means a restore with Append that has frames to apply to
	// a database that is not a replica, without ForceReplica.
	ErrNotReplica = errors.New("database is not a replica")
	// ErrOrigin means the stream comes from a database of another origin.
	// It is txframe.ErrOrigin, and comes with txframe.ErrHistory.
	ErrOrigin = txframe.ErrOrigin
	// ErrTargetMissed means the stream ended before the point-in-time
	// target. What was restored stays, and more can be appended.
	ErrTargetMissed = errors.New("the stream ends before the target")
	// ErrTargetBefore means a target before the stream's first frame, with
	// nothing in the database to stop at.
	ErrTargetBefore = errors.New("the target is before the stream's first frame")
	// ErrTargetPassed means the database is already past the target.
	ErrTargetPassed = errors.New("a restore only moves forward")
	// ErrTargetConflict means Options name more than one target.
	ErrTargetConflict = errors.New("more than one target: a target LSN, a target time or Latest")
	// ErrTargetTime means a target time outside the times commits can carry
	// (int64 nanoseconds since the Unix epoch; see MinTargetTime).
	ErrTargetTime = errors.New("target time outside the times commits can carry")
)

// Target is the database restored into, as found before the restore.
type Target struct {
	Name    string
	Exists  bool
	Last    uint64 // last LSN (T)
	Replica bool
	Origin  txframe.Origin
}

// Stream is what the stream's first segment header says.
type Stream struct {
	Origin   txframe.Origin
	Base     uint64 // LSN before the first frame
	BaseHash txframe.Hash
}

// Plan is how a restore proceeds.
type Plan struct {
	// Full: the target is absent or empty; it is created (or adopted) as a
	// replica of the stream's origin, marked as restoring, and switched off
	// replica mode when the restore completes.
	Full bool
	// Skip: frames with LSN <= Skip are already in the target (T). The
	// stream's h(Skip) must equal the target's, checked when the stream
	// reaches it (or at the base, when the stream starts at Skip+1).
	Skip uint64
	// SwitchOn: replica mode is switched on before the first frame is
	// applied, and off again when the restore ends, whether it succeeds or
	// fails (ForceReplica).
	SwitchOn bool
	// NotReplica: the target is not a replica and ForceReplica was not
	// given, so applying any frame is refused (see CheckApply).
	NotReplica bool
}

// CheckApply refuses to apply frames to a target that is not a replica.
// It is asked only when a frame is about to be applied, so a stream the
// target already holds is "already up to date" whatever its mode.
func (p Plan) CheckApply(name string) error {
	if p.NotReplica {
		return fmt.Errorf("%s: %w", name, ErrNotReplica)
	}
	return nil
}

// Decide applies the restore table of DESIGN.md §6 to a target and a
// stream's first segment, with the Append and ForceReplica of o (Force
// changes nothing). Whether the stream fits the target's history is
// decided here; whether a non-replica target may take frames is left to
// CheckApply, when a frame is about to be applied, so a wrong file is
// named as such first. A stream based at the target's last LSN T (its
// first frame is T+1) is planned as one that covers T: Plan.Skip is T, and
// Restore compares the header's h(T) with the database's before any frame
// is applied. Decide is a pure function: Restore calls it, and a caller
// can ask it first.
func Decide(t Target, s Stream, o Options) (Plan, error) {
	if !t.Exists || t.Last == 0 {
		if s.Base != 0 {
			return Plan{}, fmt.Errorf("%s: %w: the stream starts at LSN %d; a full restore needs LSNs 1..%d too",
				t.Name, txframe.ErrGap, s.Base+1, s.Base)
		}
		return Plan{Full: true}, nil
	}
	if !o.Append {
		return Plan{}, fmt.Errorf("%s: %w (LSN %d)", t.Name, ErrHasData, t.Last)
	}
	if err := txframe.SameOrigin(s.Origin, t.Origin, "the stream", "the database"); err != nil {
		return Plan{}, fmt.Errorf("%s: %w", t.Name, err)
	}
	if s.Base > t.Last {
		return Plan{}, fmt.Errorf("%s: %w: the database ends at LSN %d and the stream starts at LSN %d: %w",
			t.Name, txframe.ErrGap, t.Last, s.Base+1, &txframe.GapError{From: t.Last + 1, To: s.Base})
	}
	return Plan{Skip: t.Last, SwitchOn: !t.Replica && o.ForceReplica, NotReplica: !t.Replica && !o.ForceReplica}, nil
}

// also returns err, with its message, matching sentinel too: for a message
// that already says what the sentinel would.
func also(err, sentinel error) error { return &marked{err: err, sentinel: sentinel} }

type marked struct{ err, sentinel error }

func (m *marked) Error() string   { return m.err.Error() }
func (m *marked) Unwrap() []error { return []error{m.err, m.sentinel} }
