// Package replica makes a database from backup streams: Restore reads a
// stream (package stream) and applies its frames to a database (package
// engine), verifying every frame before it is committed.
//
// Which restores are allowed is the table of DESIGN.md §6, which Decide
// holds as a pure function of the database's state, the stream's first
// header and the options:
//
//	database              stream                    result
//	absent or empty       starts at LSN 1           full restore: created as a replica,
//	                                                switched off when it completes
//	absent or empty       starts after LSN 1        txframe.ErrGap
//	has data, no Append   any                       ErrHasData
//	Append, not replica   frames to apply           ErrNotReplica, unless ForceReplica
//	                                                (switched on, and off again after)
//	Append, last LSN T    first LSN > T+1           txframe.ErrGap
//	Append                covers T                  h(T) compared (txframe.ErrHistory);
//	                                                frames up to T skipped, the rest applied
//	Append                base is T (starts T+1)    header's h(T) compared (txframe.ErrHistory)
//	                                                before any frame; the frames applied
//	Append                ends at or before T       h compared there; Result.UpToDate
//	Append                another origin            txframe.ErrHistory and ErrOrigin
//
// Replica mode is the database's guard: a replica refuses ordinary
// commits. A database created by a full restore stays a replica, marked as
// restoring, until a restore completes it, so nothing writes into a
// partial copy; a restore with Append resumes it. Replica mode switched on
// by ForceReplica is switched off again on every path, success or error.
//
// A point-in-time restore (TargetLSN, TargetTime) stops after the last
// frame at or before the target, and Result.Stop says where, and which
// frame came next.
//
// Frames are applied by a pipeline of their own: the caller's goroutine
// reads and verifies the stream while another stages blocks into the
// database and syncs them in batches. When Restore returns, whatever the
// error, the database is a durable, consistent prefix of the stream's
// history (Result.State says where), and a restore that is killed leaves
// one too, which Append resumes.
//
// Cancellation is the context: Restore checks it between blocks, and an
// input that can stall is wrapped by stream.Cancelable so that a blocked
// read gives up too. The error is then stream.Stopped(ctx): the context's
// cause, and context.Canceled (or DeadlineExceeded) too, to errors.Is.
//
// Restore returns a Result even with an error: how far it got, and the
// state it left the database in, so that a command line or a server can
// tell the operator what to do next.
package replica
