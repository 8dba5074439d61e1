// Package replica holds the rules of restoring into a database: which
// restores are refused, how a stream joins the target's history, and when
// replica mode is switched on and off. Its decisions are pure functions of
// the target's state, the stream's first segment and the flags, so the
// table of DESIGN.md §6 is tested row by row.
package replica

import (
	"errors"
	"fmt"

	"github.com/hotpipe/hotpipe/engine"
	"github.com/hotpipe/hotpipe/txframe"
)

// Errors for refused restores. Gaps and different histories wrap the
// engine's sentinels, so callers map them to the same exit codes.
var (
	// ErrHasData means a restore without --append into a database with data.
	ErrHasData = errors.New("database has data")
	// ErrNotReplica means --append into a database that is not a replica,
	// without --force-replica.
	ErrNotReplica = errors.New("database is not a replica")
	// ErrNoOverlap means a stream that starts right after the target's last
	// LSN, without --force.
	ErrNoOverlap = errors.New("no overlapping frame")
	// ErrOrigin means the stream comes from a database of another origin.
	ErrOrigin = errors.New("origin mismatch")
)

// Target is the database restored into, as found before the restore.
type Target struct {
	Name    string
	Exists  bool
	Last    uint64 // last LSN (T)
	Replica bool
	Origin  engine.Origin
}

// Stream is what the stream's first segment header says.
type Stream struct {
	Origin   engine.Origin
	Base     uint64 // LSN before the first frame
	BaseHash txframe.Hash
}

// Flags are the restore's options.
type Flags struct {
	Append, Force, ForceReplica bool
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
	// fails (--force-replica).
	SwitchOn bool
	// NotReplica: the target is not a replica and --force-replica was not
	// given, so applying any frame is refused (see CheckApply).
	NotReplica bool
}

// CheckApply refuses to apply frames to a target that is not a replica.
// It is asked only when a frame is about to be applied, so a stream the
// target already holds is "already up to date" whatever its mode.
func (p Plan) CheckApply(name string) error {
	if p.NotReplica {
		return fmt.Errorf("%s: %w: --force-replica switches replica mode on for the restore (and off after it)", name, ErrNotReplica)
	}
	return nil
}

// Decide applies the restore table to a target and a stream's first segment.
// Whether the stream fits the target's history is decided here; whether a
// non-replica target may take frames is left to CheckApply, when a frame is
// about to be applied, so a wrong file is named as such first.
func Decide(t Target, s Stream, f Flags) (Plan, error) {
	if !t.Exists || t.Last == 0 {
		if s.Base != 0 {
			return Plan{}, fmt.Errorf("%s: %w: the stream starts at LSN %d; a full restore needs LSNs 1..%d too",
				t.Name, engine.ErrGap, s.Base+1, s.Base)
		}
		return Plan{Full: true}, nil
	}
	if !f.Append {
		return Plan{}, fmt.Errorf("%s: %w (LSN %d): restore into it with --append", t.Name, ErrHasData, t.Last)
	}
	if s.Origin != t.Origin {
		return Plan{}, fmt.Errorf("%s: %w: %w: the stream comes from origin %s, the database's origin is %s",
			t.Name, engine.ErrHistory, ErrOrigin, s.Origin, t.Origin)
	}
	if s.Base > t.Last {
		return Plan{}, fmt.Errorf("%s: %w: the database ends at LSN %d and the stream starts at LSN %d: LSNs %d..%d are missing",
			t.Name, engine.ErrGap, t.Last, s.Base+1, t.Last+1, s.Base)
	}
	if s.Base == t.Last && !f.Force {
		return Plan{}, fmt.Errorf("%s: %w: the stream starts right after the database's last LSN %d; pass --force to apply it (its base hash is still compared)",
			t.Name, ErrNoOverlap, t.Last)
	}
	return Plan{Skip: t.Last, SwitchOn: !t.Replica && f.ForceReplica, NotReplica: !t.Replica && !f.ForceReplica}, nil
}

// CheckJoin compares the stream's h at the target's last LSN with the
// target's own.
func CheckJoin(name string, lsn uint64, stream, target txframe.Hash) error {
	if stream != target {
		return fmt.Errorf("%s: %w at LSN %d: the stream has h = %s, the database has %s", name, engine.ErrHistory, lsn, stream, target)
	}
	return nil
}
