package engine

import (
	"encoding/binary"
	"errors"
	"hash/crc32"
	"testing"

	"github.com/hotpipe/hotpipe/txframe"
)

// source returns a database with n committed frames and those frames' bytes.
func source(t *testing.T, n int) (*DB, []byte) {
	t.Helper()
	src, _ := newDB(t, Options{SegmentSize: 1500}, CreateOptions{})
	commitN(t, src, 0, n)
	return src, readAll(t, src, 1, 0)
}

func replica(t *testing.T) *DB {
	t.Helper()
	db, _ := newDB(t, Options{SegmentSize: 1000}, CreateOptions{Replica: true})
	return db
}

func TestReplicaRefusesCommits(t *testing.T) {
	db := replica(t)
	if _, err := db.Commit([]txframe.Entry{put("a", "b")}); !errors.Is(err, ErrReplica) {
		t.Fatalf("Commit on a replica = %v, want ErrReplica", err)
	}
	if err := db.SetReplica(false); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Commit([]txframe.Entry{put("a", "b")}); err != nil {
		t.Fatalf("Commit after replica off: %v", err)
	}
}

func TestApplyReproducesTheSource(t *testing.T) {
	src, frames := source(t, 40)
	dst := replica(t)
	parts := splitFrames(t, frames)
	// Apply in uneven blocks: single frames and runs.
	for i := 0; i < len(parts); {
		n := 1 + i%4
		var block []byte
		for j := i; j < i+n && j < len(parts); j++ {
			block = append(block, parts[j]...)
		}
		last, err := dst.Apply(block)
		if err != nil {
			t.Fatal(err)
		}
		i += n
		if want := uint64(min(i, len(parts))); last != want {
			t.Fatalf("Apply returned LSN %d, want %d", last, want)
		}
	}
	sl, sh := mustState(t, src)
	dl, dh := mustState(t, dst)
	if sl != dl || sh != dh {
		t.Fatalf("replica at %d %s, source at %d %s", dl, dh, sl, sh)
	}
	if got := mustGet(t, dst, "k17"); got != "v17" {
		t.Fatalf("k17 = %q", got)
	}
}

func TestApplyRefusals(t *testing.T) {
	_, frames := source(t, 6)
	parts := splitFrames(t, frames)
	other, otherFrames := source(t, 6) // same content, different commit times: another history
	_ = other
	otherParts := splitFrames(t, otherFrames)
	tests := []struct {
		name      string
		notRep    bool
		block     func() []byte
		err       error
		appliedTo uint64
	}{
		{name: "not a replica", notRep: true, block: func() []byte { return parts[0] }, err: ErrNotReplica},
		{name: "gap at the start", block: func() []byte { return parts[1] }, err: ErrGap},
		{name: "gap inside the block", block: func() []byte { return cat(parts[0], parts[1], parts[3]) }, err: ErrGap, appliedTo: 2},
		{name: "reordered", block: func() []byte { return cat(parts[1], parts[0]) }, err: ErrGap},
		{name: "other history", block: func() []byte { return cat(parts[0], otherParts[1]) }, err: ErrHistory, appliedTo: 1},
		{name: "tampered body with a fixed CRC", block: func() []byte { return cat(parts[0], tamper(parts[1])) }, err: txframe.ErrChain, appliedTo: 1},
		{name: "flipped byte", block: func() []byte { b := cat(parts[0], parts[1]); b[len(b)-10] ^= 1; return b }, err: txframe.ErrChecksum, appliedTo: 1},
		{name: "cut short", block: func() []byte { return cat(parts[0], parts[1][:20]) }, err: txframe.ErrIncomplete, appliedTo: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db, _ := newDB(t, Options{}, CreateOptions{Replica: !tt.notRep})
			last, err := db.Apply(tt.block())
			if !errors.Is(err, tt.err) {
				t.Fatalf("Apply = %v, want %v", err, tt.err)
			}
			if lsn, _ := mustState(t, db); last != tt.appliedTo || lsn != tt.appliedTo {
				t.Fatalf("applied up to %d (state %d), want %d", last, lsn, tt.appliedTo)
			}
			if n, err := db.Check(); err != nil || n != tt.appliedTo {
				t.Fatalf("Check = %d, %v", n, err)
			}
		})
	}
}

func cat(parts ...[]byte) []byte {
	var b []byte
	for _, p := range parts {
		b = append(b, p...)
	}
	return b
}

// tamper changes the last value byte of a frame and recomputes its CRC, so
// only the chained hash can tell.
func tamper(f []byte) []byte {
	b := append([]byte(nil), f...)
	b[len(b)-txframe.TrailerSize-1] ^= 1
	binary.LittleEndian.PutUint32(b[len(b)-4:], crc32.Checksum(b[:len(b)-4], crc32.MakeTable(crc32.Castagnoli)))
	return b
}

func TestBeginRestore(t *testing.T) {
	db, _ := newDB(t, Options{}, CreateOptions{})
	o := NewOrigin()
	if err := db.BeginRestore(o); err != nil {
		t.Fatal(err)
	}
	if m, _ := db.Meta(); m.Origin != o || !m.Replica || !m.Restoring {
		t.Fatalf("meta after BeginRestore = %+v", m)
	}
	_, frames := source(t, 1)
	if _, err := db.Apply(frames); err != nil {
		t.Fatal(err)
	}
	if err := db.BeginRestore(NewOrigin()); !errors.Is(err, ErrHistory) {
		t.Fatalf("BeginRestore on a database with frames = %v", err)
	}
	if err := db.SetReplica(false); err != nil {
		t.Fatal(err)
	}
	if m, _ := db.Meta(); m.Origin != o || m.Replica || m.Restoring {
		t.Fatalf("meta after replica off = %+v", m)
	}
}

func TestApplySeveralBlocksAtOnce(t *testing.T) {
	_, frames := source(t, 9)
	parts := splitFrames(t, frames)
	db := replica(t)
	last, err := db.Apply(cat(parts[0:3]...), cat(parts[3:4]...), cat(parts[4:9]...))
	if err != nil || last != 9 {
		t.Fatalf("Apply of three blocks = %d, %v; want 9", last, err)
	}
	db2 := replica(t)
	last, err = db2.Apply(cat(parts[0:3]...), cat(parts[3], parts[5]), cat(parts[6:9]...))
	if !errors.Is(err, ErrGap) || last != 4 {
		t.Fatalf("a gap in the second block: Apply = %d, %v; want LSN 4 and ErrGap", last, err)
	}
	if n, err := db2.Check(); err != nil || n != 4 {
		t.Fatalf("Check = %d, %v: nothing after the gap may be committed", n, err)
	}
}

func TestApplyVerifiedTakesTheCallersChainFromItsOwnHash(t *testing.T) {
	src, frames := source(t, 6)
	parts := splitFrames(t, frames)
	db := replica(t)
	if _, err := db.ApplyVerified(txframe.Hash{1}, parts[0]); !errors.Is(err, ErrHistory) {
		t.Fatalf("frames verified from another hash: ApplyVerified = %v, want ErrHistory", err)
	}
	if last, err := db.ApplyVerified(txframe.Hash{}, cat(parts[0:2]...)); err != nil || last != 2 {
		t.Fatalf("ApplyVerified from h(0) = %d, %v", last, err)
	}
	if _, err := db.ApplyVerified(txframe.Hash{}, parts[2]); !errors.Is(err, ErrHistory) {
		t.Fatalf("second call still verified from h(0): ApplyVerified = %v, want ErrHistory", err)
	}
	last, err := db.ApplyVerified(txframe.StoredHash(parts[1]), cat(parts[2:6]...))
	if err != nil || last != 6 {
		t.Fatalf("ApplyVerified from h(2) = %d, %v", last, err)
	}
	sl, sh := mustState(t, src)
	if dl, dh := mustState(t, db); sl != dl || sh != dh {
		t.Fatalf("replica at %d %s, source at %d %s", dl, dh, sl, sh)
	}
}

// TestApplyVerifiedStillChecksEachFrame: only the hash is the caller's; a
// damaged or missing frame is refused as Apply refuses it.
func TestApplyVerifiedStillChecksEachFrame(t *testing.T) {
	_, frames := source(t, 4)
	parts := splitFrames(t, frames)
	tests := []struct {
		name  string
		block []byte
		err   error
	}{
		{"gap", cat(parts[0], parts[2]), ErrGap},
		{"flipped byte", func() []byte { b := cat(parts[0], parts[1]); b[len(b)-10] ^= 1; return b }(), txframe.ErrChecksum},
		{"cut short", cat(parts[0], parts[1][:20]), txframe.ErrIncomplete},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db := replica(t)
			last, err := db.ApplyVerified(txframe.Hash{}, tt.block)
			if !errors.Is(err, tt.err) || last != 1 {
				t.Fatalf("ApplyVerified = %d, %v; want LSN 1 and %v", last, err, tt.err)
			}
			if n, err := db.Check(); err != nil || n != 1 {
				t.Fatalf("Check = %d, %v", n, err)
			}
		})
	}
}

// TestStagedFramesBecomeVisibleWhenDurable: staged frames are written but
// not durable, so readers do not see them until Sync (or Close) makes them
// durable; a restore reopened after Close finds them all.
func TestStagedFramesBecomeVisibleWhenDurable(t *testing.T) {
	src, frames := source(t, 30)
	parts := splitFrames(t, frames)
	db, dir := newDB(t, Options{SegmentSize: 1000}, CreateOptions{Replica: true})
	if written, err := db.StageVerified(txframe.Hash{}, cat(parts[:20]...)); err != nil || written != 20 {
		t.Fatalf("StageVerified = %d, %v; want 20 written", written, err)
	}
	if lsn, _ := mustState(t, db); lsn >= 20 {
		t.Fatalf("staged frames visible before Sync: state at LSN %d", lsn)
	}
	if durable, err := db.Sync(); err != nil || durable != 20 {
		t.Fatalf("Sync = %d, %v; want 20", durable, err)
	}
	if lsn, _ := mustState(t, db); lsn != 20 {
		t.Fatalf("after Sync, state at LSN %d; want 20", lsn)
	}
	if _, err := db.StageVerified(txframe.StoredHash(parts[19]), cat(parts[20:]...)); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	re := reopen(t, dir, Options{})
	sl, sh := mustState(t, src)
	if dl, dh := mustState(t, re); sl != dl || sh != dh {
		t.Fatalf("after Close: replica at %d %s, source at %d %s", dl, dh, sl, sh)
	}
	if n, err := re.Check(); err != nil || n != 30 {
		t.Fatalf("Check = %d, %v", n, err)
	}
}

// TestReplicaOffMakesStagedFramesDurableFirst: META must never say "not a
// replica" while frames the restore staged could still be lost.
func TestReplicaOffMakesStagedFramesDurableFirst(t *testing.T) {
	_, frames := source(t, 5)
	db := replica(t)
	if _, err := db.StageVerified(txframe.Hash{}, frames); err != nil {
		t.Fatal(err)
	}
	if err := db.SetReplica(false); err != nil {
		t.Fatal(err)
	}
	if lsn, _ := mustState(t, db); lsn != 5 {
		t.Fatalf("replica mode off with staged frames: durable LSN %d, want 5", lsn)
	}
}
