// Package verify proves backup streams and databases without restoring or
// changing them, and reports every problem it finds.
//
// Stream checks one or more inputs read in order as one stream (package
// stream): the format, every record's and frame's CRC, the hash chain from
// each segment's base, contiguity across segments and inputs, and the end
// records. With Options.Quick it checks all of that but the chain: it
// compares the stored hashes where two records state one, and re-hashes no
// body, so it finds torn, cut and damaged streams at the speed of reading
// them and proves no content (a body rewritten with its CRC recomputed
// passes). Stream reads each input ahead on a goroutine of its own and
// checks CRCs and hashes bodies on all cores (stream.Options.ReadAhead);
// a plain backup file of more than 4 MiB is mapped rather than copied in
// by a full check (stream.Options.MapFiles), and a file that shrinks while it is verified
// is reported as truncated where the bytes ran out (stream.ErrTruncated).
// Database checks every byte of a database's durable history
// (package engine). Both go on after a problem, so that one run reports
// them all, like bbolt's Tx.Check:
//
//   - each problem is a Finding (source, offset, LSN and a cause wrapping a
//     sentinel of stream, txframe or engine), handed to Options.OnFinding
//     as it is found and kept in the report;
//   - the report (a *Report or *DBReport) sums up what verified: LSN range,
//     frames, segments, bytes, and for a stream the commit-time range and
//     the final hash; its Err method turns the findings into one error;
//   - Options.Progress, when set, is told how far the check has got, and
//     for Database how far it will go (Progress.End, Progress.TotalBytes),
//     for a display of a percentage and an ETA;
//   - the error returned beside the report is only for what stopped the
//     check itself, such as the cancellation of its context
//     (stream.Stopped: its cause and context.Canceled); the report then says how far the
//     check got.
//
// A command-line tool renders the report; an application or a server calls
// the same functions:
//
//	rep, err := verify.Stream(ctx, []stream.Input{{Name: "foo.backup", R: f}}, verify.Options{})
//	if err != nil {
//		return err // cancelled
//	}
//	if err := rep.Err(); err != nil {
//		return err // errors.Is(err, txframe.ErrChain), errors.As(err, &verify.Finding{}), ...
//	}
package verify
