package main

import (
	"os"
	"strings"
	"testing"

	"github.com/rogpeppe/go-internal/txtar"
)

// TestStandbyRecipeIsTheREADMEs: standby_recipe.txtar proves the README's
// standby recipe only while it runs the same command.
func TestStandbyRecipeIsTheREADMEs(t *testing.T) {
	a, err := txtar.ParseFile("testdata/scripts/standby_recipe.txtar")
	if err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range a.Files {
		if f.Name != "standby.sh" {
			continue
		}
		i := strings.Index(string(f.Data), "hotpipe hot-backup")
		j := strings.Index(string(f.Data), "--force-replica")
		if i < 0 || j < i {
			t.Fatalf("standby.sh holds no recipe:\n%s", f.Data)
		}
		if recipe := string(f.Data[i:j]); !strings.Contains(string(readme), recipe) {
			t.Fatalf("README.md does not hold the recipe standby.sh runs:\n%s", recipe)
		}
		return
	}
	t.Fatal("standby_recipe.txtar has no standby.sh")
}

// TestEmbeddingSnippetIsCopydbs: README's embedding snippet is the code of
// examples/copydb, which its test runs, line for line (comments aside).
func TestEmbeddingSnippetIsCopydbs(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	prog, err := os.ReadFile("examples/copydb/main.go")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(readme), "## Embedding")
	_, rest, ok2 := strings.Cut(rest, "```go\n")
	snippet, _, ok3 := strings.Cut(rest, "```")
	if !ok || !ok2 || !ok3 {
		t.Fatal("README.md has no Go snippet under ## Embedding")
	}
	for _, line := range strings.Split(snippet, "\n") {
		code, _, _ := strings.Cut(line, "//")
		if code = strings.TrimSpace(code); code != "" && !strings.Contains(string(prog), code) {
			t.Errorf("README's embedding snippet has %q, which examples/copydb does not", code)
		}
	}
}

// TestIncrementExampleIsTheREADMEs: readme_increment.txtar proves the
// README's increment example only while it runs the same two commands.
func TestIncrementExampleIsTheREADMEs(t *testing.T) {
	a, err := txtar.ParseFile("testdata/scripts/readme_increment.txtar")
	if err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, line := range strings.Split(string(a.Comment), "\n") {
		if !strings.Contains(line, "inc.xz") || !strings.HasPrefix(line, "exec ") {
			continue
		}
		cmd := strings.TrimPrefix(line, "exec ")
		if s, ok := strings.CutPrefix(cmd, "sh -c '"); ok {
			cmd = strings.TrimSuffix(s, "'")
		}
		if !strings.Contains(string(readme), cmd) {
			t.Errorf("README.md does not hold the command readme_increment.txtar runs:\n%s", cmd)
		}
		n++
	}
	if n < 2 {
		t.Fatalf("readme_increment.txtar runs %d commands on inc.xz; want the backup and the restore", n)
	}
}

// TestBootRestoreIsTheREADMEs: README's boot-time restore uses the flags
// boot_restore.txtar proves.
func TestBootRestoreIsTheREADMEs(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	script, err := os.ReadFile("testdata/scripts/boot_restore.txtar")
	if err != nil {
		t.Fatal(err)
	}
	const cmd = "hotpipe hot-restore foo -i /backup/foo.backup --if-not-exists --if-input-exists"
	if !strings.Contains(string(readme), cmd) {
		t.Fatalf("README.md does not show the boot-time restore %q", cmd)
	}
	for _, flag := range []string{"--if-not-exists", "--if-input-exists"} {
		if !strings.Contains(string(script), flag) {
			t.Errorf("boot_restore.txtar does not prove %s", flag)
		}
	}
}
