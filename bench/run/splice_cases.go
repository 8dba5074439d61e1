package main

import (
	"fmt"
	"os/exec"
	"path/filepath"
)

// spliceCase measures a backup into a pipe beside the fastest kernel-
// assisted copy of the same segment files into the same kind of pipe:
// bench/splicecat, which splices each file into its stdout (widened to
// 1 MiB, as hot-backup widens it) and never reads a byte; and pv, which
// splices too, when it is installed. The reader of the pipe is cat in
// every command.
func (b *bench) spliceCase(sz sizes) ([]row, error) {
	n, err := b.segBytes("big")
	if err != nil {
		return nil, err
	}
	sc := filepath.Join(b.dir, "splicecat")
	if out, err := exec.Command("go", "build", "-o", sc, "./bench/splicecat").CombinedOutput(); err != nil {
		return nil, fmt.Errorf("go build splicecat: %v\n%s", err, out)
	}
	mine := `"$HP" hot-backup big -q | cat > /dev/null`
	m, r, err := b.pair(sz.reps, mine, `"$D/splicecat" $HOTPIPE_DATA_DIR/big/*.seg | cat > /dev/null`, n)
	if err != nil {
		return nil, err
	}
	name := fmt.Sprintf("hot-backup %d MiB of 64 KiB txs into a pipe, vs splicecat (splice(2) only) of the segment files into a pipe", sz.bigMiB)
	rows := []row{ratioRow(name, "≥ 1.0×", m, r)}
	if _, err := exec.LookPath("pv"); err == nil {
		m, r, err := b.pair(sz.reps, mine, `pv -q $HOTPIPE_DATA_DIR/big/*.seg | cat > /dev/null`, n)
		if err != nil {
			return nil, err
		}
		name := fmt.Sprintf("hot-backup %d MiB of 64 KiB txs into a pipe, vs pv of the segment files into a pipe", sz.bigMiB)
		rows = append(rows, ratioRow(name, "≥ 1.0×", m, r))
	}
	return rows, nil
}
