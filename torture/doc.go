// Package torture holds hotpipe's crash-torture and corruption suite: it
// builds the hotpipe binary, SIGKILLs writers, backups, restores and
// standby pipelines at random moments, damages backups byte by byte,
// simulates power cuts (a writer frozen and its database copied, the
// never-fsynced pages of the copy dropped, zeroed or scrambled), takes a
// writer's LOCK away, runs backups into one file at once, stores backups
// as values, and (as root, on a loop device) makes writeback fail; it
// checks that nothing acknowledged is lost, nothing that failed appears,
// and every fault is reported. `make test` runs it briefly; `make torture`
// runs it long and writes RELIABILITY.md.
package torture
