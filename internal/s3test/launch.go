package s3test

import (
	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// Run starts a server over dir for a program that is not a test (make
// bench), as Start does for a test: on a free loopback port, found again
// if another process takes the port first. The caller stops it.
func Run(dir string) (*Server, error) {
	bin, err := Binary()
	if err != nil {
		return nil, err
	}
	for attempt := 1; ; attempt++ {
		s, err := start(bin, dir)
		if err == nil || attempt == 3 {
			return s, err
		}
	}
}

// NewClient returns a new minio-go client of the server with the root
// credentials, for callers without a testing.TB.
func (s *Server) NewClient() (*minio.Client, error) {
	return minio.New(s.Addr, &minio.Options{
		Creds:        credentials.NewStaticV4(AccessKey, SecretKey, ""),
		Region:       Region,
		BucketLookup: minio.BucketLookupPath,
	})
}
