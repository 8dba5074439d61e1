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
