//go:build windows

package engine

// syncDir does nothing on Windows, which has no call that makes a
// directory's entries durable (os.File.Sync on a directory fails there:
// FlushFileBuffers refuses a directory). NTFS journals its metadata, so a
// rename or a new file survives a crash once the journal holds it; one
// made just before a power cut may be missing, or the old file, afterwards.
func syncDir(string) error { return nil }
