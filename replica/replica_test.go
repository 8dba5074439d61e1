package replica

import (
	"errors"
	"testing"

	"github.com/hotpipe/hotpipe/txframe"
)

func TestDecideFollowsTheRestoreTable(t *testing.T) {
	origin, other := txframe.Origin{1}, txframe.Origin{2}
	h := txframe.Hash{9}
	db := func(last uint64, isReplica bool) Target {
		return Target{Name: "bar", Exists: true, Last: last, Replica: isReplica, Origin: origin}
	}
	from := func(base uint64) Stream { return Stream{Origin: origin, Base: base, BaseHash: h} }
	tests := []struct {
		name   string
		target Target
		stream Stream
		flags  Options
		want   Plan
		err    error
	}{
		{name: "absent, starts at 1: full restore", target: Target{Name: "bar"}, stream: from(0), want: Plan{Full: true}},
		{name: "empty, starts at 1: full restore", target: db(0, false), stream: Stream{Origin: other}, want: Plan{Full: true}},
		{name: "append to absent is a full restore", target: Target{Name: "bar"}, stream: from(0), flags: Options{Append: true}, want: Plan{Full: true}},
		{name: "absent, starts after 1: gap", target: Target{Name: "bar"}, stream: from(5), err: txframe.ErrGap},
		{name: "empty, starts after 1: gap", target: db(0, true), stream: from(5), flags: Options{Append: true}, err: txframe.ErrGap},
		{name: "has data, no append", target: db(10, true), stream: from(0), err: ErrHasData},
		{name: "append, not replica: frames to apply will be refused", target: db(10, false), stream: from(0), flags: Options{Append: true},
			want: Plan{Skip: 10, NotReplica: true}},
		{name: "append, not replica, forced", target: db(10, false), stream: from(0), flags: Options{Append: true, ForceReplica: true},
			want: Plan{Skip: 10, SwitchOn: true}},
		{name: "append, replica, overlap", target: db(10, true), stream: from(4), flags: Options{Append: true}, want: Plan{Skip: 10}},
		{name: "append, stream ends before T is still planned as overlap", target: db(10, true), stream: from(0), flags: Options{Append: true}, want: Plan{Skip: 10}},
		{name: "append, gap after T", target: db(10, true), stream: from(12), flags: Options{Append: true}, err: txframe.ErrGap},
		{name: "append, base is T: planned as an overlap at T, without Force", target: db(10, true), stream: from(10), flags: Options{Append: true},
			want: Plan{Skip: 10}},
		{name: "append, base is T, Force changes nothing", target: db(10, true), stream: from(10), flags: Options{Append: true, Force: true},
			want: Plan{Skip: 10}},
		{name: "append, base is T, not replica", target: db(10, false), stream: from(10), flags: Options{Append: true},
			want: Plan{Skip: 10, NotReplica: true}},
		{name: "append, base is T, not replica, forced", target: db(10, false), stream: from(10), flags: Options{Append: true, ForceReplica: true},
			want: Plan{Skip: 10, SwitchOn: true}},
		{name: "append, other origin", target: db(10, true), stream: Stream{Origin: other}, flags: Options{Append: true}, err: ErrOrigin},
		{name: "other origin is named before replica mode", target: db(10, false), stream: Stream{Origin: other}, flags: Options{Append: true}, err: txframe.ErrHistory},
		{name: "a gap is named before replica mode", target: db(10, false), stream: from(20), flags: Options{Append: true}, err: txframe.ErrGap},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Decide(tt.target, tt.stream, tt.flags)
			if tt.err != nil {
				if !errors.Is(err, tt.err) {
					t.Fatalf("Decide = %+v, %v; want error %v", got, err, tt.err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("Decide = %+v, %v; want %+v", got, err, tt.want)
			}
		})
	}
}

func TestCheckApplyRefusesANonReplica(t *testing.T) {
	if err := (Plan{NotReplica: true}).CheckApply("bar"); !errors.Is(err, ErrNotReplica) {
		t.Fatalf("CheckApply = %v, want ErrNotReplica", err)
	}
	if err := (Plan{SwitchOn: true}).CheckApply("bar"); err != nil {
		t.Fatalf("CheckApply with --force-replica = %v", err)
	}
}

func TestDecideNamesTheMissingLSNs(t *testing.T) {
	o := txframe.NewOrigin()
	_, err := Decide(Target{Name: "bar", Exists: true, Last: 20, Origin: o}, Stream{Origin: o, Base: 30}, Options{Append: true})
	var gap *txframe.GapError
	if !errors.As(err, &gap) || *gap != (txframe.GapError{From: 21, To: 30}) {
		t.Fatalf("Decide = %v; want the LSNs 21..30 missing", err)
	}
}
