package repo

import (
	"fmt"
	"iter"
	"slices"
	"testing"
	"time"

	"github.com/hotpipe/hotpipe/txframe"
)

// listing yields names in byte order with their sizes, as Store.List
// does.
func listing(objs map[string]int64) iter.Seq2[Info, error] {
	return func(yield func(Info, error) bool) {
		for _, k := range slices.Sorted(func(y func(string) bool) {
			for k := range objs {
				if !y(k) {
					return
				}
			}
		}) {
			if !yield(Info{Name: k, Size: objs[k]}, nil) {
				return
			}
		}
	}
}

// FuzzSummarize: a summary made in one pass over a listing says what the
// catalog of the same listing says: per history, the objects, bytes,
// restorable LSN and its time, gaps, archive and backups.
func FuzzSummarize(f *testing.F) {
	f.Add([]byte{1, 10, 5, 0, 11, 20, 5, 1, 25, 3, 7, 2, 1, 40, 9, 0})
	f.Add([]byte{1, 10, 0x45, 0, 1, 10, 0x55, 0, 1, 10, 0x75, 0, 1, 10, 5, 0, 11, 3, 0x66, 1}) // twins
	f.Fuzz(func(t *testing.T, spec []byte) {
		objs := map[string]int64{"notes.txt": 3}
		other := txframe.Origin{1}
		for i := 0; i+3 < len(spec) && len(objs) < 20; i += 4 {
			first := uint64(spec[i]%40) + 1
			n := Name{DB: []string{"foo", "foo-bar", "a"}[spec[i+3]%3], Origin: testOrigin, First: first, Last: first + uint64(spec[i+1]%20),
				Kind: Kind(spec[i+3] / 3 % 2), Level: int(spec[i+3] / 6 % 3)}
			if spec[i+3]&0x80 != 0 {
				n.Origin = other
			}
			if n.Kind == Archive {
				n.Level = 0
			}
			n.FirstTime, n.LastTime = time.Unix(int64(n.First), 0), time.Unix(int64(n.Last), 0)
			if spec[i+2]&0x40 != 0 { // encrypted, perhaps re-encrypted: twins of several generations
				n.Encrypted, n.Gen = true, int(spec[i+2]>>4&3)*5
			}
			objs[n.String()] = int64(spec[i+2]) + 1
		}
		var c Catalog
		for k, size := range objs {
			c.Add(k, size)
		}
		c.Sort()
		s, err := Summarize(listing(objs))
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(s.Foreign, c.Foreign) || len(s.Histories) != len(c.Histories) {
			t.Fatalf("summary %d histories, foreign %v; catalog %d, %v", len(s.Histories), s.Foreign, len(c.Histories), c.Foreign)
		}
		for i, h := range c.Histories {
			if got, want := summaryString(s.Histories[i]), summaryString(summaryOf(h)); got != want {
				t.Fatalf("history %d:\nsummary %s\ncatalog %s", i, got, want)
			}
		}
	})
}

// summaryOf sums up a catalog's history with the catalog's own methods.
func summaryOf(h *History) *HistorySummary {
	s := &HistorySummary{DB: h.DB, Origin: h.Origin, Objects: len(h.Objects), Bytes: h.Bytes(), Gaps: h.Gaps(), Superseded: len(h.Superseded)}
	s.Restorable, s.RestorableTime = h.Restorable()
	if s.Restorable > 0 {
		s.FirstTime = h.Objects[0].FirstTime
	}
	for _, o := range h.Objects {
		if o.Encrypted {
			s.Encrypted++
		}
		switch o.Kind {
		case Archive:
			if s.Archive == nil {
				s.Archive = &ArchiveSummary{First: o.First}
			}
			if o.Encrypted {
				s.Archive.Encrypted++
			}
			s.Archive.Objects++
			s.Archive.Bytes += o.Size
			if o.Last > s.Archive.Last {
				s.Archive.Last, s.Archive.LastTime = o.Last, o.LastTime
			}
		case Backup:
			s.Backups = append(s.Backups, o)
		}
	}
	return s
}

func summaryString(s *HistorySummary) string {
	out := fmt.Sprintf("%s/%s objects %d (%d encrypted, %d superseded) bytes %d restorable %d at %v from %v gaps %v backups",
		s.DB, s.Origin, s.Objects, s.Encrypted, s.Superseded, s.Bytes, s.Restorable, s.RestorableTime.Unix(), s.FirstTime.Unix(), s.Gaps)
	for _, b := range s.Backups {
		out += " " + b.Key
	}
	if a := s.Archive; a != nil {
		out += fmt.Sprintf(" archive %d..%d at %v, %d objects (%d encrypted), %d bytes", a.First, a.Last, a.LastTime.Unix(), a.Objects, a.Encrypted, a.Bytes)
	}
	return out
}
