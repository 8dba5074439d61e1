package txframe

import "hash/crc32"

// castagnoli is the CRC32C table of every checksum in the format: frames,
// stream records, a database's seals and watermarks.
var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Checksum returns the CRC32C (Castagnoli) of b, the checksum every record
// of hotpipe's formats ends with.
func Checksum(b []byte) uint32 { return crc32.Checksum(b, castagnoli) }
