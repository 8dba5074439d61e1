// Package engine is hotpipe's embeddable database: an append-only,
// crash-safe transaction log with one writer process and lock-free readers in
// other processes.
//
// A database is a directory <data-dir>/<name>/ holding:
//
//	META                      metadata (origin id, replica flag, created), replaced atomically
//	LOCK                      names the one writer (pid, host, start time); the writer flocks the directory itself
//	DURABLE                   the durable watermark: last LSN, h(last), segment and end offset
//	<first LSN, 20 digits>.seg  segment files: whole frames (package txframe), LSNs contiguous
//
// A commit returns only once its frame is fsynced; concurrent commits share
// one fsync (group commit). After each fsync the writer records the new
// watermark in DURABLE, and readers in other processes read frames only up to
// that watermark, so they never see a torn or not-yet-durable frame. Anything
// past the watermark was never acknowledged: opening for write truncates an
// invalid tail there (and says so), while damage inside the durable prefix is
// a *CorruptionError and nothing is truncated.
//
// The database is append-only: history is never rewritten or compacted.
package engine
