package repo

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/hotpipe/hotpipe/txframe"
)

var testOrigin = txframe.Origin{0x5f, 0x6d, 0xde, 0xaf, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}

func at(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	return t
}

func TestNameRoundTrips(t *testing.T) {
	for _, n := range []Name{
		{DB: "foo", Origin: testOrigin, First: 1, Last: 1000, Kind: Backup, Level: 0,
			FirstTime: at("2026-11-30T07:50:46.885581913Z"), LastTime: at("2026-11-30T07:50:47.58448608Z"),
			Expires: at("2026-12-07T00:00:00Z")},
		{DB: "a", Origin: testOrigin, First: 1001, Last: 1001, Kind: Archive,
			FirstTime: at("2026-11-30T07:50:47Z"), LastTime: at("2026-11-30T07:50:47Z")},
		{DB: "db-2_x", Origin: testOrigin, First: 5, Last: 1<<64 - 1, Kind: Backup, Level: 9,
			FirstTime: at("1970-01-01T00:00:00Z"), LastTime: at("2262-04-11T23:47:16.854775807Z")},
		{DB: "enc", Origin: testOrigin, First: 1, Last: 7, Kind: Archive, Encrypted: true,
			FirstTime: at("2026-11-30T07:50:47Z"), LastTime: at("2026-11-30T07:50:48Z")},
		{DB: "enc", Origin: testOrigin, First: 1, Last: 7, Kind: Backup, Level: 2, Encrypted: true, Gen: 12,
			FirstTime: at("2026-11-30T07:50:47Z"), LastTime: at("2026-11-30T07:50:48Z"), Expires: at("2026-12-07T00:00:00Z")},
		{DB: "enc", Origin: testOrigin, First: 1, Last: 7, Kind: Archive, Encrypted: true, Gen: MaxGen,
			FirstTime: at("2026-11-30T07:50:47Z"), LastTime: at("2026-11-30T07:50:48Z")},
	} {
		s := n.String()
		got, err := ParseName(s)
		if err != nil {
			t.Fatalf("ParseName(%q): %v", s, err)
		}
		if got.String() != s || !got.FirstTime.Equal(n.FirstTime) || !got.LastTime.Equal(n.LastTime) ||
			!got.Expires.Equal(n.Expires) || got.First != n.First || got.Last != n.Last || got.Kind != n.Kind || got.Level != n.Level ||
			got.Encrypted != n.Encrypted || got.Gen != n.Gen {
			t.Errorf("ParseName(%q) = %+v, want %+v", s, got, n)
		}
		if !strings.HasPrefix(s, Prefix(n.DB, n.Origin)) {
			t.Errorf("%q does not start with its prefix %q", s, Prefix(n.DB, n.Origin))
		}
	}
}

func TestNameSortsByLSN(t *testing.T) {
	a := Name{DB: "foo", Origin: testOrigin, First: 9, Last: 10}.String()
	b := Name{DB: "foo", Origin: testOrigin, First: 11, Last: 200}.String()
	if !(a < b) {
		t.Errorf("%q sorts after %q", a, b)
	}
}

func TestParseNameRefuses(t *testing.T) {
	good := Name{DB: "foo", Origin: testOrigin, First: 1, Last: 2, Kind: Archive,
		FirstTime: at("2026-11-30T07:50:46Z"), LastTime: at("2026-11-30T07:50:47Z")}.String()
	for _, s := range []string{
		"",
		"foo",
		strings.TrimSuffix(good, ".hp"),
		"../" + good,
		"Foo" + good[3:],
		strings.Replace(good, "/5f6d", "/zz6d", 1),
		strings.Replace(good, "00000000000000000001-", "00000000000000000003-", 1), // first > last
		strings.Replace(good, "00000000000000000001-", "00000000000000000000-", 1), // LSN 0
		strings.Replace(good, "00000000000000000001-", "0000000000000000001-", 1),  // not padded
		strings.Replace(good, ".a.", ".b10.", 1),
		strings.Replace(good, ".a.", ".c.", 1),
		strings.Replace(good, "20261130T075046.000000000Z-", "20261130T075048.000000000Z-", 1), // times out of order
		strings.Replace(good, "20261130T075046.000000000Z", "20261130T075046Z", 1),
		strings.Replace(good, ".hp", ".xsoon.hp", 1),
		strings.Replace(good, ".hp", ".x20261207T000000Z.y.hp", 1),
		"foo/bar/" + good,
		good + ".age.age",
		strings.TrimSuffix(good, ".hp") + ".age",
		strings.Replace(good, ".hp", ".k1.hp", 1),                          // re-encrypted, yet not encrypted
		strings.Replace(good, ".hp", ".k0.hp.age", 1),                      // generation 0 is written without .k
		strings.Replace(good, ".hp", ".k01.hp.age", 1),                     // not canonical
		strings.Replace(good, ".hp", ".k+1.hp.age", 1),                     // not canonical
		strings.Replace(good, ".hp", ".k2147483648.hp.age", 1),             // past MaxGen
		strings.Replace(good, ".hp", ".k1.x20261207T000000Z.hp.age", 1),    // out of order
		strings.Replace(good, ".hp", ".x20261207T000000Z.k1.k2.hp.age", 1), // twice
		strings.Replace(good, ".hp", ".kx.hp.age", 1),
	} {
		if n, err := ParseName(s); !errors.Is(err, ErrForeign) {
			t.Errorf("ParseName(%q) = %+v, %v; want ErrForeign", s, n, err)
		}
	}
}

func FuzzParseName(f *testing.F) {
	f.Add(Name{DB: "foo", Origin: testOrigin, First: 1, Last: 2, Kind: Backup, Level: 3,
		FirstTime: at("2026-11-30T07:50:46Z"), LastTime: at("2026-11-30T07:50:47Z"), Expires: at("2026-12-07T00:00:00Z")}.String())
	f.Add("foo/x/1-2.a.t-t.hp")
	f.Add(Name{DB: "foo", Origin: testOrigin, First: 1, Last: 2, Kind: Archive, Encrypted: true, Gen: 3,
		FirstTime: at("2026-11-30T07:50:46Z"), LastTime: at("2026-11-30T07:50:47Z")}.String())
	f.Fuzz(func(t *testing.T, s string) {
		n, err := ParseName(s)
		if err != nil {
			if !errors.Is(err, ErrForeign) {
				t.Fatalf("ParseName(%q): %v is not ErrForeign", s, err)
			}
			return
		}
		if n.String() != s {
			t.Fatalf("ParseName(%q) formats back as %q", s, n.String())
		}
	})
}
