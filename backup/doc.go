// Package backup makes hotpipe backup streams from a live database: one
// stream segment (header, frames, end record; package stream) of any LSN
// range, written into any io.Writer while writers keep committing. Frames
// are copied in large blocks as the database stores them, each one's CRC
// checked on the way, so damage at the source fails the backup instead of
// the restore. The backup is a lock-free reader: it never holds the
// database's writer lock.
//
// Backup writes into an io.Writer (a pipe, a socket, a buffer). Into a
// pipe (an *os.File, on Linux, unencrypted) the checked frame blocks are
// spliced from the segment files instead of written, so that their bytes
// are not copied again on the way out; after the first, each block is
// spliced on a goroutine while the next is read and checked (one block in
// flight: a failure of its splice is the next write's). The header and end
// records are written, and the stream is byte for byte the one written
// otherwise. File
// creates a backup file, refusing an existing one; Append adds to a file
// what it lacks, after checking that the file's tail (found in O(1) from
// its last end record) belongs to the database's history, and repairing a
// torn tail an interrupted backup left. A file is locked (flock on the file
// itself) from before it is read until it is fsynced and closed, and after
// a failed write or fsync it never looks more complete than it durably is:
// a file the run created is removed, any other is cut back to what was
// durable (see FileError). Options.Follow keeps streaming commits as they
// become durable.
//
// FileFrom and AppendFrom make and extend backup files in the same way
// from a stream made elsewhere (a Source: a hotpipe server's), checking
// every frame before it is written and the stream's header against the
// file's history, so that nothing unchecked lands in the file.
//
// The context is the only way to stop a backup. A plain backup that is
// stopped ends at a frame boundary without an end record, so its output
// reads as truncated, never as complete, and returns an error that is
// stream.Stopped(ctx): the context's cause and ctx.Err() to errors.Is. A following backup that
// is stopped writes its end record and returns nil. Every call returns a
// Result, also on error, saying how far it got; Options.Progress is called
// as it goes. Errors wrap this package's sentinels and typed errors
// (ErrFileLocked, ErrConsumerGone, *FileError, *RangeError) and the
// history sentinels of package txframe, for errors.Is and errors.As.
package backup
