// Package repo is hotpipe's backup repository: immutable hotpipe stream
// files of one database history each, kept in a directory (local or NFS)
// or an S3 bucket, named so that a listing alone is the catalog.
//
// # Storage
//
// Every repository sits on a Store, a flat namespace of immutable objects
// opened by URL with OpenStore:
//
//	/srv/backups, file:///srv/backups   a directory store
//	s3://bucket/prefix                  an S3 store (any S3-compatible server)
//
// The Store's promises are what the repository is built on:
//
//   - Create is create-only: where a name exists it fails with ErrExist
//     and changes nothing, so two writers never overwrite each other. A
//     directory store links a fsynced temp file to the name (link(2) fails
//     where the name exists); an S3 store sends If-None-Match: * with the
//     PUT or the CompleteMultipartUpload that makes the object appear.
//   - Create is atomic: an object appears whole or not at all, and a failed
//     Create leaves no object. What a crashed one leaves (temp files,
//     incomplete multipart uploads) Cleanup removes.
//   - List yields names in byte order, read as it goes, with sizes and
//     nothing from modification times.
//   - Names are checked (CheckName) before anything is touched.
//
// Errors wrap the sentinels ErrExist, ErrNotExist, ErrName, ErrSize,
// ErrURL, ErrNoBucket, ErrAccess and ErrUnavailable, with the store's URL,
// the operation and the name; credentials never appear in them.
//
// # Catalog, archive and restore
//
// A Repository keeps hotpipe stream objects in a Store, each the frames of
// one LSN range of one database history, named so that a listing alone is
// the catalog (see Name). The continuous archive (Repository.Archive) and
// levelled backups (Repository.Backup) write objects; a restore plans the
// objects a target needs with the fewest bytes (History.Plan) and reads
// them through the same verify-before-commit path as any restore (package
// replica).
//
// The database is append-only and never compacted, so restoring any point
// needs every frame from LSN 1: retention removes redundant copies and
// whole expired histories, never a frame a kept restore point needs.
package repo
