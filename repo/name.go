package repo

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/hotpipe/hotpipe/engine"
	"github.com/hotpipe/hotpipe/txframe"
)

// An object's name is its catalog entry: a listing of the repository,
// and nothing else (no object is read, no modification time trusted),
// says which database and history each object holds, which LSNs and
// commit times, what kind of object it is and until when it is kept:
//
//	DB/ORIGIN/FIRST-LAST.KIND.T1-T2[.xEXPIRES][.kGEN].hp[.age]
//
//	foo/5f6ddeaf4ba01894797306b730e7551e/00000000000000000001-00000000000000001000.b0.20261130T075046.885581913Z-20261130T075047.584486080Z.x20261207T000000Z.hp
//
// FIRST and LAST are the object's first and last LSNs, zero-padded to 20
// digits so that byte order is LSN order; KIND is "a" for the continuous
// archive and "b0".."b9" for a backup of that level; T1 and T2 are the
// commit times of FIRST and LAST; EXPIRES, when present, is when the
// object may be deleted (a backup's --expire). Times are UTC in ISO 8601
// basic format, nanoseconds kept. The object itself is an ordinary
// hotpipe stream of frames FIRST..LAST (one segment), verifiable alone;
// ".hp.age" names one encrypted with age (the stream inside), and GEN, from
// 1, counts the times repo rekey re-encrypted it to new recipients: the
// object of the highest GEN supersedes its twins.

// Kind is what an object is for.
type Kind uint8

const (
	// Archive objects are written by the continuous archive: one after
	// another, each starting where the one before ended.
	Archive Kind = iota
	// Backup objects are written by hot-backup --repo, with a level.
	Backup
)

// MaxLevel is the highest backup level.
const MaxLevel = 9

// ErrForeign marks an object name that is not one of a repository's: the
// object is no part of the catalog.
var ErrForeign = errors.New("not a hotpipe repository object name")

// Name is what an object's name says.
type Name struct {
	DB          string
	Origin      txframe.Origin
	First, Last uint64 // LSNs, First ≤ Last
	Kind        Kind
	Level       int       // a backup's level, 0..MaxLevel
	FirstTime   time.Time // commit time of First
	LastTime    time.Time // commit time of Last
	Expires     time.Time // zero: no expiry
	Encrypted   bool      // the object is an age file
	Gen         int       // re-encryptions by repo rekey, 0..MaxGen
}

// MaxGen is the most times an object can be re-encrypted.
const MaxGen = 1<<31 - 1

const (
	nameSuffix = ".hp"
	ageSuffix  = ".age"
	timeLayout = "20060102T150405.000000000Z"
	dayLayout  = "20060102T150405Z"
)

// String formats the object name.
func (n Name) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s/%s/%020d-%020d.%s.%s-%s", n.DB, n.Origin, n.First, n.Last, n.kindText(),
		n.FirstTime.UTC().Format(timeLayout), n.LastTime.UTC().Format(timeLayout))
	if !n.Expires.IsZero() {
		b.WriteString(".x" + n.Expires.UTC().Format(dayLayout))
	}
	if n.Gen > 0 {
		b.WriteString(".k" + strconv.Itoa(n.Gen))
	}
	b.WriteString(nameSuffix)
	if n.Encrypted {
		b.WriteString(ageSuffix)
	}
	return b.String()
}

func (n Name) kindText() string {
	if n.Kind == Archive {
		return "a"
	}
	return "b" + strconv.Itoa(n.Level)
}

// Prefix is the part of every object name of db's history origin: a
// listing of it is that history's catalog.
func Prefix(db string, origin txframe.Origin) string {
	return db + "/" + origin.String() + "/"
}

// Check reports whether n can be an object's name: a valid database name,
// an origin, an LSN range from 1, a level in range and ordered times.
func (n Name) Check() error {
	switch {
	case engine.ValidateName(n.DB) != nil:
		return fmt.Errorf("%w: database name %q", ErrForeign, n.DB)
	case n.Origin.IsZero():
		return fmt.Errorf("%w: no origin", ErrForeign)
	case n.First == 0 || n.Last < n.First:
		return fmt.Errorf("%w: LSN range %d..%d", ErrForeign, n.First, n.Last)
	case n.Kind > Backup || n.Level < 0 || n.Level > MaxLevel || n.Kind == Archive && n.Level != 0:
		return fmt.Errorf("%w: kind %d level %d", ErrForeign, n.Kind, n.Level)
	case n.LastTime.Before(n.FirstTime):
		return fmt.Errorf("%w: commit times %s after %s", ErrForeign, n.FirstTime, n.LastTime)
	case n.Gen < 0 || n.Gen > MaxGen || n.Gen > 0 && !n.Encrypted:
		return fmt.Errorf("%w: key generation %d of an object encrypted: %v", ErrForeign, n.Gen, n.Encrypted)
	}
	return nil
}

// ParseName parses an object name; an error wraps ErrForeign.
func ParseName(s string) (Name, error) {
	var n Name
	bad := func(what string) (Name, error) { return Name{}, fmt.Errorf("%w: %q: %s", ErrForeign, s, what) }
	var err error
	rest, encrypted := strings.CutSuffix(s, ageSuffix)
	rest, ok := strings.CutSuffix(rest, nameSuffix)
	if !ok {
		return bad("no " + nameSuffix + " or " + nameSuffix + ageSuffix + " suffix")
	}
	n.Encrypted = encrypted
	parts := strings.Split(rest, "/")
	if len(parts) != 3 {
		return bad("not DB/ORIGIN/OBJECT")
	}
	n.DB = parts[0]
	if n.Origin, err = txframe.ParseOrigin(parts[1]); err != nil {
		return bad("origin: " + err.Error())
	}
	fields := strings.Split(parts[2], ".")
	// FIRST-LAST, KIND, T1 (with its fraction), -T2 (with its fraction) [, xEXPIRES] [, kGEN]
	if len(fields) < 5 || len(fields) > 7 {
		return bad("not FIRST-LAST.KIND.T1-T2[.xEXPIRES][.kGEN]")
	}
	if g, ok := strings.CutPrefix(fields[len(fields)-1], "k"); ok && len(fields) > 5 {
		if n.Gen, err = strconv.Atoi(g); err != nil {
			return bad("key generation " + fields[len(fields)-1])
		}
		fields = fields[:len(fields)-1]
	}
	if len(fields) > 6 {
		return bad("not FIRST-LAST.KIND.T1-T2[.xEXPIRES][.kGEN]")
	}
	if n.First, n.Last, err = parseRange(fields[0]); err != nil {
		return bad(err.Error())
	}
	if n.Kind, n.Level, err = parseKind(fields[1]); err != nil {
		return bad(err.Error())
	}
	if n.FirstTime, n.LastTime, err = parseTimes(fields[2] + "." + fields[3] + "." + fields[4]); err != nil {
		return bad(err.Error())
	}
	if len(fields) == 6 {
		x, ok := strings.CutPrefix(fields[5], "x")
		if n.Expires, err = time.Parse(dayLayout, x); !ok || err != nil {
			return bad("expiry " + fields[5])
		}
	}
	if err := n.Check(); err != nil {
		return bad(err.Error())
	}
	if n.String() != s { // one spelling per name: no second name for an object
		return bad("not in canonical form")
	}
	return n, nil
}

func parseRange(s string) (first, last uint64, err error) {
	a, b, ok := strings.Cut(s, "-")
	if !ok || len(a) != 20 || len(b) != 20 {
		return 0, 0, fmt.Errorf("LSN range %q", s)
	}
	if first, err = strconv.ParseUint(a, 10, 64); err == nil {
		last, err = strconv.ParseUint(b, 10, 64)
	}
	if err != nil {
		return 0, 0, fmt.Errorf("LSN range %q", s)
	}
	return first, last, nil
}

func parseKind(s string) (Kind, int, error) {
	if s == "a" {
		return Archive, 0, nil
	}
	if len(s) == 2 && s[0] == 'b' && '0' <= s[1] && s[1] <= '9' {
		return Backup, int(s[1] - '0'), nil
	}
	return 0, 0, fmt.Errorf("kind %q", s)
}

// parseTimes parses "T1-T2" where each time has a fractional part; the
// caller rejoined the dots Split took apart.
func parseTimes(s string) (t1, t2 time.Time, err error) {
	a, b, ok := strings.Cut(s, "Z-")
	if !ok {
		return t1, t2, fmt.Errorf("commit times %q", s)
	}
	if t1, err = time.Parse(timeLayout, a+"Z"); err == nil {
		t2, err = time.Parse(timeLayout, b)
	}
	if err != nil {
		return t1, t2, fmt.Errorf("commit times %q", s)
	}
	return t1, t2, nil
}
