package engine

import (
	"fmt"
	"sync"
	"testing"

	"github.com/hotpipe/hotpipe/txframe"
)

// BenchmarkCommit commits 1-entry 100-byte transactions from 64 goroutines
// sharing fsyncs (group commit).
func BenchmarkCommit(b *testing.B) {
	dir := b.TempDir()
	if _, err := Create(dir, "db", CreateOptions{}); err != nil {
		b.Fatal(err)
	}
	db, err := Open(dir, "db", Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	value := make([]byte, 100)
	b.ReportAllocs()
	b.SetBytes(int64(len(value)))
	var wg sync.WaitGroup
	per := max(b.N/64, 1)
	for w := 0; w < 64; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < per; i++ {
				if _, err := db.Commit([]txframe.Entry{put(fmt.Sprint(w, "-", i), string(value))}); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
}

// BenchmarkApply applies 1 MiB blocks of 100-byte-value frames to a replica.
func BenchmarkApply(b *testing.B) {
	var frames []byte
	var h txframe.Hash
	value := make([]byte, 100)
	for lsn := uint64(1); len(frames) < 1<<20; lsn++ {
		var err error
		frames, h, err = txframe.Append(frames, h, lsn, int64(lsn), []txframe.Entry{{Op: txframe.OpPut, Key: []byte(fmt.Sprint("k", lsn)), Value: value}})
		if err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(frames)))
	for b.Loop() {
		b.StopTimer()
		dir := b.TempDir()
		if _, err := Create(dir, "db", CreateOptions{Replica: true}); err != nil {
			b.Fatal(err)
		}
		db, err := Open(dir, "db", Options{})
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		if _, err := db.Apply(frames); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		db.Close()
		b.StartTimer()
	}
}

// BenchmarkFollow reads one new frame at a time from where the last read
// stopped, as hot-backup --follow does after each commit.
func BenchmarkFollow(b *testing.B) {
	dir := b.TempDir()
	if _, err := Create(dir, "db", CreateOptions{}); err != nil {
		b.Fatal(err)
	}
	db, err := Open(dir, "db", Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	commitN(b, db, 0, 100)
	r, err := db.Frames(1, 0)
	if err != nil {
		b.Fatal(err)
	}
	for _, err = r.Next(); err == nil; _, err = r.Next() {
	}
	pos := r.Stop()
	r.Close()
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		b.StopTimer()
		commitN(b, db, 100+i, 1)
		b.StartTimer()
		r, err := db.FramesFrom(pos, 0)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := r.Next(); err != nil {
			b.Fatal(err)
		}
		pos = r.Stop()
		r.Close()
	}
}

// BenchmarkCheck checks a 32 MiB database of 1 KiB-value frames in 4 MiB
// segments, read from the page cache: the speed of db check's CPU work
// (CRC, body, the hash chain) and of its reads.
func BenchmarkCheck(b *testing.B) {
	benchmarkCheck(b, CheckOptions{Found: func(p *CorruptionError) { b.Fatal(p) }})
}

// BenchmarkCheckProgress is BenchmarkCheck reporting progress, as db check
// does for its display.
func BenchmarkCheckProgress(b *testing.B) {
	var last CheckProgress
	benchmarkCheck(b, CheckOptions{Found: func(p *CorruptionError) { b.Fatal(p) }, Progress: func(p CheckProgress) { last = p }})
	if last.Bytes != last.TotalBytes || last.LSN != last.End {
		b.Fatalf("last progress %+v; want the end", last)
	}
}

func benchmarkCheck(b *testing.B, opts CheckOptions) {
	dir := b.TempDir()
	if _, err := Create(dir, "db", CreateOptions{Replica: true, SegmentSize: 4 << 20}); err != nil {
		b.Fatal(err)
	}
	db, err := Open(dir, "db", Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	var h txframe.Hash
	var total int64
	value := make([]byte, 1024)
	for lsn := uint64(1); total < 32<<20; {
		var block []byte
		for ; len(block) < 1<<20; lsn++ {
			block, h, err = txframe.Append(block, h, lsn, int64(lsn), []txframe.Entry{{Op: txframe.OpPut, Key: fmt.Append(nil, "k", lsn), Value: value}})
			if err != nil {
				b.Fatal(err)
			}
		}
		if _, err := db.Apply(block); err != nil {
			b.Fatal(err)
		}
		total += int64(len(block))
	}
	b.ReportAllocs()
	b.SetBytes(total)
	for b.Loop() {
		rep, err := db.CheckAll(b.Context(), opts)
		if err != nil || rep.Bytes != total {
			b.Fatalf("CheckAll: %d bytes, %v; want %d", rep.Bytes, err, total)
		}
	}
}
