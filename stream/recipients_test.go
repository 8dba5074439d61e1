package stream_test

import (
	"errors"
	"strings"
	"testing"

	"filippo.io/age"
	"filippo.io/age/agessh"

	"github.com/hotpipe/hotpipe/stream"
)

const (
	sshEd25519 = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAINljXL7+EJF5StCAK3khVj7usEnFheQFlxmObO60YaKz test"
	sshRSA     = "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQCbUzpMqRnYEY7gMgeU/LT6BUoTQr/iiTCD+xwkdPx2FTyj5XVQ1mHgQ8Yc9drojsMtAWlwOT8o520h656oEiTaLQwRjwFL48/FtPYVNq++tPq+oNdvr2NFuQOSf/LkeWTyWC4OMMD3KYtWfpWaEr0qeUpAFJ2zvUaeVmeHnaFuh4slOxChDcIJJgc0HsaRYYMvkTYrHp1lxf6sa2bcc1lDmlpSeRKM+jq8qFNrSOKkfx2p3gvXJ5avTCxc9z7BRGvrBZG82NHkxNYrU6rhHN28O0Nkncr3BxniDxMDRxw6AkvSZNhHJ33K9ubGiyY4Jde/9yLQiutqUql7dOrEH7W5 test"
	sshECDSA   = "ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBHsNTYbiF/6oSK4HhqQGrYF1NwyyNnyvIS02sPJlsJD7fv19V6/F07uqszFtt0asV5xwc+5BWRDAksF5DEx1Amg= t"
)

func newIdentity(t *testing.T) *age.X25519Identity {
	t.Helper()
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// TestParseRecipients reads recipients files as age does: one key a line,
// # comments and blank lines skipped; every refusal names the file and
// line, and is ErrRecipient.
func TestParseRecipients(t *testing.T) {
	id := newIdentity(t)
	pub := id.Recipient().String()
	tests := []struct {
		name     string
		file     string
		want     []string // the recipients' types, in order
		badLine  int      // when refused: the line named, 0 for the whole file
		inReason string
	}{
		{name: "x25519", file: pub + "\n", want: []string{"*age.X25519Recipient"}},
		{name: "comments and blanks", file: "# backups\n\n  " + pub + "  \n# ops\n" + sshEd25519 + "\n\n", want: []string{"*age.X25519Recipient", "*agessh.Ed25519Recipient"}},
		{name: "ssh keys", file: sshEd25519 + "\n" + sshRSA, want: []string{"*agessh.Ed25519Recipient", "*agessh.RSARecipient"}},
		{name: "no final newline", file: pub, want: []string{"*age.X25519Recipient"}},
		{name: "crlf", file: pub + "\r\n", want: []string{"*age.X25519Recipient"}},
		{name: "empty file", file: "", inReason: "no recipients"},
		{name: "only comments", file: "# nobody\n\n", inReason: "no recipients"},
		{name: "secret key", file: "# k\n" + id.String() + "\n", badLine: 2, inReason: "secret key"},
		{name: "bad checksum", file: otherLastChar(pub) + "\n", badLine: 1, inReason: "malformed"},
		{name: "unknown type", file: pub + "\nhello world\n", badLine: 2, inReason: "unknown key type"},
		{name: "ecdsa", file: sshECDSA + "\n", badLine: 1, inReason: "ssh-ed25519 and ssh-rsa keys only"},
		{name: "truncated ssh key", file: sshEd25519[:40] + "\n", badLine: 1, inReason: "malformed"},
		{name: "private key file", file: "-----BEGIN OPENSSH PRIVATE KEY-----\n", badLine: 1, inReason: "private key file"},
		{name: "not utf-8", file: "age1\xff\n", badLine: 1, inReason: "UTF-8"},
		{name: "line too long", file: strings.Repeat("a", 70<<10) + "\n", badLine: 1, inReason: "unreadable"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rs, err := stream.ParseRecipients(strings.NewReader(tc.file), "keys.txt")
			if tc.want != nil {
				if err != nil {
					t.Fatal(err)
				}
				if len(rs) != len(tc.want) {
					t.Fatalf("got %d recipients, want %d", len(rs), len(tc.want))
				}
				for i, r := range rs {
					if got := typeName(r); got != tc.want[i] {
						t.Errorf("recipient %d is %s, want %s", i+1, got, tc.want[i])
					}
				}
				return
			}
			var re *stream.RecipientError
			if !errors.Is(err, stream.ErrRecipient) || !errors.As(err, &re) {
				t.Fatalf("got %v, want a *RecipientError that is ErrRecipient", err)
			}
			if re.Source != "keys.txt" || re.Line != tc.badLine || !strings.Contains(re.Reason, tc.inReason) {
				t.Fatalf("refused as %+v; want keys.txt line %d, a reason with %q", re, tc.badLine, tc.inReason)
			}
			if strings.Contains(err.Error(), id.String()) {
				t.Fatal("the error repeats the secret key")
			}
		})
	}
}

// TestParseRecipient takes one key as --recipient gives it.
func TestParseRecipient(t *testing.T) {
	id := newIdentity(t)
	r, err := stream.ParseRecipient(" "+id.Recipient().String()+"\n", "--recipient")
	if err != nil {
		t.Fatal(err)
	}
	if x, ok := r.(*age.X25519Recipient); !ok || x.String() != id.Recipient().String() {
		t.Fatalf("got %v, want %s", r, id.Recipient())
	}
	if _, err := stream.ParseRecipient(sshRSA, "--recipient"); err != nil {
		t.Fatal(err)
	}
	_, err = stream.ParseRecipient("", "--recipient")
	var re *stream.RecipientError
	if !errors.As(err, &re) || re.Source != "--recipient" || re.Line != 0 {
		t.Fatalf("empty recipient: got %v", err)
	}
}

func typeName(r age.Recipient) string {
	switch r.(type) {
	case *age.X25519Recipient:
		return "*age.X25519Recipient"
	case *agessh.Ed25519Recipient:
		return "*agessh.Ed25519Recipient"
	case *agessh.RSARecipient:
		return "*agessh.RSARecipient"
	}
	return "other"
}

// otherLastChar changes the last character of a Bech32 string to another
// one of its alphabet, so that its checksum no longer holds whatever the
// key was.
func otherLastChar(s string) string {
	c := byte('q')
	if s[len(s)-1] == c {
		c = 'p'
	}
	return s[:len(s)-1] + string(c)
}
