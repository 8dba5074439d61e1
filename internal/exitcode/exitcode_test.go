package exitcode

import (
	"context"
	"fmt"
	"testing"

	"github.com/hotpipe/hotpipe/backup"
	"github.com/hotpipe/hotpipe/engine"
	"github.com/hotpipe/hotpipe/repo"
	"github.com/hotpipe/hotpipe/stream"
	"github.com/hotpipe/hotpipe/txframe"
)

func TestOf(t *testing.T) {
	for _, c := range []struct {
		err  error
		code int
		kind string
	}{
		{nil, OK, "ok"},
		{fmt.Errorf("x"), Failure, "failure"},
		{fmt.Errorf("--foo: %w", ErrUsage), Usage, "usage"},
		{engine.ErrInvalidName, Usage, "usage"},
		{fmt.Errorf("f: %w", stream.ErrTruncated), Integrity, "integrity"},
		{fmt.Errorf("f: %w", txframe.ErrChain), Integrity, "integrity"},
		{repo.ErrNameMismatch, Integrity, "integrity"},
		{fmt.Errorf("compact: %w", repo.ErrDecryptedCopy), Usage, "usage"},
		{fmt.Errorf("archive: %w", stream.ErrNoEndTag), Integrity, "integrity"},
		{fmt.Errorf("rekey: %w", repo.ErrNothingOpened), Integrity, "integrity"},
		{fmt.Errorf("db: %w", engine.ErrCorrupt), Integrity, "integrity"},
		{fmt.Errorf("lsn 5: %w", txframe.ErrGap), History, "history"},
		{txframe.ErrHistory, History, "history"},
		{engine.ErrLocked, Locked, "locked"},
		{backup.ErrFileLocked, Locked, "locked"},
		{context.Canceled, Interrupted, "interrupted"},
		{ErrBrokenPipe, BrokenPipe, "broken_pipe"},
		// A server's error ends in the code the server gave it, whatever
		// its message says.
		{&RemoteError{Message: "history differs", Code: History}, History, "history"},
		{fmt.Errorf("remote: %w", &RemoteError{Message: "locked", Code: Locked}), Locked, "locked"},
	} {
		if got := Of(c.err); got != c.code || Kind(got) != c.kind {
			t.Errorf("Of(%v) = %d (%s), want %d (%s)", c.err, got, Kind(got), c.code, c.kind)
		}
	}
	if Kind(7) != "" {
		t.Errorf("Kind(7) = %q, want none", Kind(7))
	}
}
