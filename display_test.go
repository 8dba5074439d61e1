package main

import "testing"

func TestShown(t *testing.T) {
	for _, c := range []struct {
		name, in, want string
	}{
		{"a database name", "foo_1-a", "foo_1-a"},
		{"a path", "/var/backups/foo.backup", "/var/backups/foo.backup"},
		{"empty", "", `""`},
		{"a space", "my foo", `"my foo"`},
		{"a comma, as between inspect's fields", "foo, origin 00", `"foo, origin 00"`},
		{"a terminal escape", "\x1b[2Jfoo", `"\x1b[2Jfoo"`},
		{"a newline and a fake line", "foo\nsegment 9", `"foo\nsegment 9"`},
		{"a right-to-left override", "foo\u202ekcab", `"foo\u202ekcab"`},
		{"bytes that are not UTF-8", "foo\xff", `"foo\xff"`},
		{"a quote", `fo"o`, `"fo\"o"`},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := shown(c.in); got != c.want {
				t.Errorf("shown(%q) = %s, want %s", c.in, got, c.want)
			}
		})
	}
}

func TestShownText(t *testing.T) {
	for _, c := range []struct {
		name, in, want string
	}{
		{"prose", "offset 12: not a hotpipe stream", "offset 12: not a hotpipe stream"},
		{"a newline", "one\ntwo", `one\ntwo`},
		{"a terminal escape", "x\x1b[31my", `x\x1b[31my`},
		{"a right-to-left override", "a\u202eb", `a\u202eb`},
		{"printable non-ASCII stays", "naïve", "naïve"},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := shownText(c.in); got != c.want {
				t.Errorf("shownText(%q) = %s, want %s", c.in, got, c.want)
			}
		})
	}
}
