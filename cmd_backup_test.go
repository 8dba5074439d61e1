package main

import (
	"fmt"
	"io/fs"
	"syscall"
	"testing"

	"github.com/hotpipe/hotpipe/backup"
)

// TestBackupErrorsAreWordedForTheCLI: the backup library's errors reach the
// operator in the CLI's words (flags by name, the command that resumes a
// file) and keep their exit codes. The words are the CLI's contract; the
// library's own messages name no command.
func TestBackupErrorsAreWordedForTheCLI(t *testing.T) {
	interrupted := fmt.Errorf("backup of foo stopped after LSN 57: %w", errInterrupted)
	tests := []struct {
		name string
		err  error
		want string
		code int
	}{
		{name: "a file cut back after a fault",
			err:  &backup.FileError{Path: "f.backup", State: backup.CutBack, Size: 7860, Last: 20, Err: syscall.EIO},
			want: "input/output error\nf.backup is cut back to what was durable, 7860 bytes through LSN 20; resume with: hotpipe hot-backup foo -o f.backup --append",
			code: exitFailure},
		{name: "a file removed after a fault",
			err:  &backup.FileError{Path: "f.backup", State: backup.Removed, Err: syscall.ENOSPC},
			want: "no space left on device\nf.backup is removed: this backup created it, and what it wrote is not durable",
			code: exitFailure},
		{name: "an interrupted file",
			err:  &backup.FileError{Path: "f.backup", State: backup.Incomplete, Last: 57, Err: interrupted},
			want: "backup of foo stopped after LSN 57: interrupted\nf.backup is incomplete (no end record after LSN 57); resume it with: hotpipe hot-backup foo -o f.backup --append",
			code: exitInterrupted},
		{name: "a file that failed otherwise",
			err:  &backup.FileError{Path: "f.backup", State: backup.Incomplete, Last: 57, Err: syscall.EIO},
			want: "input/output error\nf.backup is incomplete (no end record after LSN 57)",
			code: exitFailure},
		{name: "a locked file",
			err:  &backup.FileLockedError{Path: "f.backup"},
			want: "f.backup: backup file is locked by another hot-backup (holder unknown); the file is untouched",
			code: exitLocked},
		{name: "--end-lsn past the end",
			err:  &backup.RangeError{DB: "foo", Start: 1, End: 999, Last: 301},
			want: "foo: --end-lsn 999 is past the last durable LSN 301",
			code: exitFailure},
		{name: "--start-lsn past the end",
			err:  &backup.RangeError{DB: "foo", Start: 303, End: 301, Last: 301},
			want: "foo: --start-lsn 303 is past the end of the backup (LSN 301)",
			code: exitFailure},
		{name: "-o of an existing file",
			err:  &fs.PathError{Op: "open", Path: "f.backup", Err: fs.ErrExist},
			want: "f.backup already exists: hot-backup -o creates a new file (use --append to add to it)",
			code: exitFailure},
		{name: "the reader of stdout went away",
			err:  fmt.Errorf("backup of foo after LSN 3: %w", backup.ErrConsumerGone),
			want: errBrokenPipe.Error(),
			code: exitBrokenPipe},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := backupError(tt.err, "foo", "f.backup")
			if got.Error() != tt.want || exitCode(got) != tt.code {
				t.Fatalf("backupError = %q (exit %d)\nwant          %q (exit %d)", got, exitCode(got), tt.want, tt.code)
			}
		})
	}
}
