package repo

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/hotpipe/hotpipe/internal/s3test"
	"github.com/minio/minio-go/v7"
)

// Flags of BenchmarkStore, e.g.
//
//	go test ./repo -run '^$' -bench 'Store/Create/(s3|minio)' -store.sizes 16,64,256
var (
	benchSizes        = flag.String("store.sizes", "16,80", "BenchmarkStore: object sizes in MiB, comma-separated")
	benchMaxSinglePut = flag.Int64("store.maxsingleput", 0, "BenchmarkStore: the S3 store's MaxSinglePut in MiB (0: the default)")
)

// BenchmarkStore measures Create and a whole Read of one object on each
// backend, beside minio-go's own PutObject and GetObject of the same bytes
// to the same server (the reference issue 13's targets are ratios to).
// The S3 stores use the default part size and single-PUT limit unless the
// flags above say otherwise.
func BenchmarkStore(b *testing.B) {
	var sizes []int
	for _, f := range strings.Split(*benchSizes, ",") {
		mib, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || mib <= 0 {
			b.Fatalf("-store.sizes %q: want sizes in MiB like 16,64,256", *benchSizes)
		}
		sizes = append(sizes, mib<<20)
	}
	srv := s3test.Start(b)
	bucket := srv.MakeBucket(b, "bench")
	o := testS3Options(srv)
	o.PartSize, o.MaxSinglePut = 0, *benchMaxSinglePut<<20 // defaults unless set
	stores := map[string]Store{
		"dir": mustOpenB(b, filepath.Join(b.TempDir(), "repo"), StoreOptions{}),
		"s3":  mustOpenB(b, "s3://"+bucket+"/store", StoreOptions{S3: o}),
	}
	mc := srv.Client(b)
	ctx := context.Background()
	for _, size := range sizes {
		data := content(1, size)
		for _, kind := range []string{"dir", "s3"} {
			for _, known := range []bool{true, false} {
				b.Run(fmt.Sprintf("Create/%s/%dMiB/known=%v", kind, size>>20, known), func(b *testing.B) {
					b.SetBytes(int64(size))
					n := int64(size)
					if !known {
						n = -1
					}
					for range b.N {
						name := fmt.Sprintf("c-%d", benchSeq.Add(1))
						if err := stores[kind].Create(ctx, name, onlyReader{bytes.NewReader(data)}, n); err != nil {
							b.Fatal(err)
						}
					}
				})
			}
			b.Run(fmt.Sprintf("Read/%s/%dMiB", kind, size>>20), func(b *testing.B) {
				name := fmt.Sprintf("r-%d", benchSeq.Add(1))
				if err := stores[kind].Create(ctx, name, bytes.NewReader(data), int64(size)); err != nil {
					b.Fatal(err)
				}
				b.SetBytes(int64(size))
				for range b.N {
					obj, err := stores[kind].Open(ctx, name)
					if err != nil {
						b.Fatal(err)
					}
					if _, err := io.Copy(io.Discard, obj); err != nil {
						b.Fatal(err)
					}
					if err := obj.Close(); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
		b.Run(fmt.Sprintf("Create/minio-PutObject/%dMiB", size>>20), func(b *testing.B) {
			b.SetBytes(int64(size))
			for range b.N {
				key := fmt.Sprintf("ref/c-%d", benchSeq.Add(1))
				if _, err := mc.PutObject(ctx, bucket, key, onlyReader{bytes.NewReader(data)}, int64(size), minio.PutObjectOptions{}); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(fmt.Sprintf("Read/minio-GetObject/%dMiB", size>>20), func(b *testing.B) {
			key := fmt.Sprintf("ref/r-%d", benchSeq.Add(1))
			if _, err := mc.PutObject(ctx, bucket, key, bytes.NewReader(data), int64(size), minio.PutObjectOptions{}); err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(size))
			for range b.N {
				obj, err := mc.GetObject(ctx, bucket, key, minio.GetObjectOptions{})
				if err != nil {
					b.Fatal(err)
				}
				if _, err := io.Copy(io.Discard, obj); err != nil {
					b.Fatal(err)
				}
				if err := obj.Close(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// benchSeq numbers the benchmarks' objects: a benchmark runs more than once.
var benchSeq atomic.Int64

func mustOpenB(b *testing.B, url string, opts StoreOptions) Store {
	b.Helper()
	st, err := OpenStore(context.Background(), url, opts)
	if err != nil {
		b.Fatal(err)
	}
	return st
}
