package main

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"filippo.io/age"
)

// ageCase measures encryption: hot-backup --recipients-file against the
// same backup piped into the age CLI (Debian's age package; without it,
// the age library encrypting the same bytes in this process), and the
// restore of the encrypted backup against the restore of the plain one.
func (b *bench) ageCase(sz sizes) ([]row, error) {
	key, pub := filepath.Join(b.dir, "bench.key"), filepath.Join(b.dir, "bench.pub")
	if _, err := b.sh(fmt.Sprintf(`rm -f %q; "$HP" key generate -o %q > %q`, key, key, pub)); err != nil {
		return nil, err
	}
	n, err := b.segBytes("big")
	if err != nil {
		return nil, err
	}
	mine := fmt.Sprintf(`"$HP" hot-backup big -q --recipients-file %q > /dev/null`, pub)
	var m, r sample
	refName := "hot-backup piped into age -R (the age CLI), each writing to /dev/null"
	if _, err := exec.LookPath("age"); err == nil {
		// Both write their ciphertext into the same sink, as a user
		// encrypting into a file compares them: an extra pipe on one side
		// only would measure the pipe (into a pipe each: 1.86× in one run).
		m, r, err = b.pair(sz.reps, mine, fmt.Sprintf(`"$HP" hot-backup big -q | age -R %q > /dev/null`, pub), n)
		if err != nil {
			return nil, err
		}
	} else {
		refName = "the age library encrypting the same bytes in process (no age CLI here)"
		if m, r, err = b.pairWithLibrary(sz.reps, mine, pub, n); err != nil {
			return nil, err
		}
	}
	rows := []row{ratioRow(fmt.Sprintf("hot-backup --recipients-file of %d MiB, vs %s", sz.bigMiB, refName), "≥ 0.9×", m, r)}
	restore, err := b.encryptedRestore(sz, key, pub)
	if err != nil {
		return nil, err
	}
	return append(rows, restore), nil
}

// pairWithLibrary times the hotpipe command and, alternating with it, the
// age library encrypting the segment files of big (n bytes) to nowhere.
func (b *bench) pairWithLibrary(reps int, mine, pub string, n int64) (sample, sample, error) {
	f, err := os.Open(pub)
	if err != nil {
		return nil, nil, err
	}
	recipients, err := age.ParseRecipients(f)
	f.Close()
	if err != nil {
		return nil, nil, err
	}
	files, err := filepath.Glob(b.segments("big"))
	if err != nil {
		return nil, nil, err
	}
	var m, r sample
	for i := 0; i < reps; i++ {
		dm, err := b.sh(mine)
		if err != nil {
			return nil, nil, err
		}
		start := time.Now()
		if err := encryptFiles(files, recipients); err != nil {
			return nil, nil, err
		}
		m, r = append(m, mbps(n, dm)), append(r, mbps(n, time.Since(start)))
	}
	return m, r, nil
}

func encryptFiles(files []string, recipients []age.Recipient) error {
	w, err := age.Encrypt(io.Discard, recipients...)
	if err != nil {
		return err
	}
	for _, name := range files {
		f, err := os.Open(name)
		if err != nil {
			return err
		}
		_, err = io.Copy(w, f)
		f.Close()
		if err != nil {
			return err
		}
	}
	return w.Close()
}

// encryptedRestore times hot-restore --identity of the big database's
// encrypted backup against hot-restore of its plain backup.
func (b *bench) encryptedRestore(sz sizes, key, pub string) (row, error) {
	plain, sealed := filepath.Join(b.dir, "big.backup"), filepath.Join(b.dir, "big.backup.age")
	if _, err := os.Stat(plain); err != nil {
		if _, err := b.sh(fmt.Sprintf(`"$HP" hot-backup big -q -o %q`, plain)); err != nil {
			return row{}, err
		}
	}
	if _, err := b.sh(fmt.Sprintf(`rm -f %q; "$HP" hot-backup big -q -o %q --recipients-file %q`, sealed, sealed, pub)); err != nil {
		return row{}, err
	}
	defer os.Remove(sealed)
	fi, err := os.Stat(plain)
	if err != nil {
		return row{}, err
	}
	mine := fmt.Sprintf(`rm -rf "$HOTPIPE_DATA_DIR/rb"; "$HP" hot-restore rb -q -i %q --identity %q`, sealed, key)
	ref := fmt.Sprintf(`rm -rf "$HOTPIPE_DATA_DIR/rb"; "$HP" hot-restore rb -q -i %q`, plain)
	m, r, err := b.pair(sz.reps, mine, ref, fi.Size())
	if err != nil {
		return row{}, err
	}
	return ratioRow(fmt.Sprintf("hot-restore --identity of the %d MiB encrypted backup, vs hot-restore of the plain one", sz.bigMiB), "≥ 0.8×", m, r), nil
}
