// Package torture holds hotpipe's crash-torture and corruption suite: it
// builds the hotpipe binary, SIGKILLs writers, backups, restores and
// standby pipelines at random moments, damages backups byte by byte, and
// checks that nothing acknowledged is lost and every fault is reported.
// `make test` runs it briefly; `make torture` runs it long and writes
// RELIABILITY.md.
package torture
