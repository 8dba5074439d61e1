// Package engine is hotpipe's embeddable database: an append-only,
// crash-safe transaction log with one writer process and lock-free readers in
// other processes.
//
// A database is a directory <data-dir>/<name>/ holding:
//
//	META                      metadata (origin id, replica flag, created), replaced atomically
//	LOCK                      names the one writer (pid, host, start time); the writer flocks the directory itself
//	DURABLE                   the durable watermark: last LSN, h(last), segment and end offset
//	<first LSN, 20 digits>.seg  segment files: whole frames (package txframe), LSNs contiguous;
//	                          every one but the last ends in a seal (see seal.go)
//
// A commit returns only once its frame is fsynced; concurrent commits share
// one fsync (group commit). After each fsync the writer records the new
// watermark in DURABLE, and readers in other processes read frames only up to
// that watermark, so they never see a torn or not-yet-durable frame. Opening
// for write proves the log's structure from the seals, keeps the whole frames
// past the watermark that continue the chain, and truncates the first bytes
// that do not, and all after them (and says so): no acknowledged frame can
// follow a hole. Damage to what was durable is a *CorruptionError and
// nothing is truncated. After a failed write or fsync nothing written since
// the last successful fsync survives (see writer.abandon). docs/FORMAT.md
// has the byte format.
//
// The database is append-only: history is never rewritten or compacted.
package engine
