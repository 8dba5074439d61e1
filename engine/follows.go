package engine

import (
	"github.com/hotpipe/hotpipe/txframe"
)

// follows checks that whole frame f, whose header is h, can come after the
// frame at prev by txframe.Follows, the one rule recovery, Check, Apply and
// the stream reader hold frames to; rehash recomputes h(n) from the body.
func follows(prev watermark, f []byte, h txframe.Header, rehash bool) error {
	var sum *txframe.Hash
	if rehash {
		s := txframe.BodySum(f)
		sum = &s
	}
	return txframe.Follows(txframe.Tip{LSN: prev.lsn, Time: prev.time, Hash: prev.hash}, f, h, sum)
}
