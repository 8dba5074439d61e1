package main

import (
	"strconv"
	"strings"
	"unicode"
)

// shown returns a name (a stream header's source database, an input file)
// as human output prints it: as it is when every byte is one that database
// names and ordinary paths are made of, else quoted with Go's escapes and
// every byte outside printable ASCII escaped. A header's name comes from
// the file, and a file's name may come from whoever made it: printed raw,
// either could move the cursor, recolour or clear the terminal, or start
// a line that looks like hotpipe's own. JSON output is escaped by
// encoding/json and needs none of this.
func shown(s string) string {
	if s == "" || strings.IndexFunc(s, func(r rune) bool { return !plain(r) }) >= 0 {
		return strconv.QuoteToASCII(s)
	}
	return s
}

// plain reports whether r may appear in a name printed without quotes.
func plain(r rune) bool {
	return 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' || strings.ContainsRune("._-/+:@", r)
}

// shownText returns a message for human output with every control or
// non-printable character escaped: messages are hotpipe's prose, but may
// carry a name or a library's text.
func shownText(s string) string {
	if strings.IndexFunc(s, func(r rune) bool { return !unicode.IsPrint(r) && r != ' ' }) < 0 {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		if unicode.IsPrint(r) || r == ' ' {
			b.WriteRune(r)
			continue
		}
		q := strconv.QuoteRuneToASCII(r)
		b.WriteString(q[1 : len(q)-1])
	}
	return b.String()
}
