package main

import (
	"fmt"
	"os"
	"path/filepath"
)

// coldCase measures backup and restore with their input out of the page
// cache: before every run, of hotpipe and of its reference alike, the
// files the command reads are evicted (see evict) and checked gone. The
// machine's drop_caches is not writable here, and is not needed: only the
// input's pages matter, and those are dropped and counted.
//
// backup: hot-backup of the big database into a pipe, vs cat of its
// segment files into the same kind of pipe. restore: hot-restore of the
// big backup file, vs dd copying it with conv=fsync; the previous run's
// output is removed before the eviction, untimed.
func (b *bench) coldCase(sz sizes) ([]row, error) {
	segs, err := filepath.Glob(b.segments("big"))
	if err != nil {
		return nil, err
	}
	n, err := b.segBytes("big")
	if err != nil {
		return nil, err
	}
	backup := filepath.Join(b.dir, "big.backup")
	if _, err := os.Stat(backup); err != nil { // -only cold: restoreCase has not made it
		if _, err := b.sh(`"$HP" hot-backup big -q -o "$D/big.backup"`); err != nil {
			return nil, err
		}
	}
	defer b.sh(`cat $HOTPIPE_DATA_DIR/big/*.seg "$D/big.backup" > /dev/null`) // the rows after this one read them hot
	m, r, pages, err := b.coldPair(sz.reps, `"$HP" hot-backup big -q | cat > /dev/null`,
		`cat $HOTPIPE_DATA_DIR/big/*.seg | cat > /dev/null`, "", segs, n)
	if err != nil {
		return nil, err
	}
	rows := []row{ratioRow(fmt.Sprintf("cold cache: hot-backup %d MiB of 64 KiB txs into a pipe, vs cat of the segment files into a pipe; %s: 0 of %d pages resident after each (mincore)",
		sz.bigMiB, evictMethod, pages), "≥ 0.9×", m, r)}
	fi, err := os.Stat(backup)
	if err != nil {
		return nil, err
	}
	m, r, pages, err = b.coldPair(sz.reps, `"$HP" hot-restore rb -q -i "$D/big.backup"`,
		`dd if="$D/big.backup" of="$D/copy" bs=1M conv=fsync status=none`,
		`rm -rf "$HOTPIPE_DATA_DIR/rb" "$D/copy"`, []string{backup}, fi.Size())
	if err != nil {
		return nil, err
	}
	rows = append(rows, ratioRow(fmt.Sprintf("cold cache: hot-restore of the %d MiB backup from a file, vs copying it with dd conv=fsync; %s: 0 of %d pages resident after each (mincore)",
		sz.bigMiB, evictMethod, pages), "≥ 0.9×", m, r))
	_, err = b.sh(`rm -rf "$HOTPIPE_DATA_DIR/rb" "$D/copy"`)
	return rows, err
}

// coldPair is pair with the input evicted before each timed command:
// prep (untimed) runs first, then files are evicted and must show no
// resident page. It returns the files' page count.
func (b *bench) coldPair(reps int, mine, ref, prep string, files []string, bytes int64) (m, r sample, pages int, err error) {
	run := func(script string) (float64, error) {
		if prep != "" {
			if _, err := b.sh(prep); err != nil {
				return 0, err
			}
		}
		resident, p, err := evict(files)
		if err != nil {
			return 0, err
		}
		if resident != 0 {
			return 0, fmt.Errorf("cold: %d of %d pages still resident after eviction", resident, p)
		}
		pages = p
		d, err := b.sh(script)
		if err != nil {
			return 0, err
		}
		return mbps(bytes, d), nil
	}
	for i := 0; i < reps; i++ {
		dm, err := run(mine)
		if err != nil {
			return nil, nil, 0, err
		}
		dr, err := run(ref)
		if err != nil {
			return nil, nil, 0, err
		}
		m, r = append(m, dm), append(r, dr)
	}
	return m, r, pages, nil
}
