package main

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/hotpipe/hotpipe"

// allowedImports is DESIGN.md §1's table: which of the module's packages
// each package may import. Arrows point one way, down to txframe.
var allowedImports = map[string][]string{
	"txframe": {},
	"engine":  {"txframe"},
	"stream":  {"txframe"},
	"backup":  {"stream", "engine", "txframe"},
	"replica": {"stream", "engine", "txframe"},
	"verify":  {"stream", "engine", "txframe"},
	"loadgen": {"stream", "engine", "txframe"},
	"repo":    {"backup", "replica", "verify", "stream", "engine", "txframe"},
	"server":  {"internal/exitcode", "repo", "backup", "replica", "verify", "stream", "engine", "txframe"},
	// exit codes from errors, for the CLI and the server that reports them
	"internal/exitcode": {"repo", "backup", "replica", "verify", "stream", "engine", "txframe"},
	// the S3 test server harness: runs versitygw for tests, imports none of ours
	"internal/s3test": {},
}

// TestPackagesImportOnlyDownTheLayout: every library package imports only
// the packages below it, and none imports the CLI framework: an application
// embedding hotpipe gets the same packages the CLI calls, without it.
func TestPackagesImportOnlyDownTheLayout(t *testing.T) {
	out, err := exec.Command("go", "list", "-f", `{{.ImportPath}}|{{.Name}}|{{join .Imports ","}}`, "./...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		path, rest, _ := strings.Cut(line, "|")
		name, imports, _ := strings.Cut(rest, "|")
		if name == "main" || strings.HasPrefix(path, module+"/torture") {
			continue // commands and the torture suite stand above every package
		}
		rel := strings.TrimPrefix(path, module+"/")
		allowed, known := allowedImports[rel]
		if !known {
			t.Errorf("package %s is not in DESIGN.md §1's layout: add it to allowedImports with its arrows", rel)
			continue
		}
		for _, imp := range strings.Split(imports, ",") {
			if strings.HasPrefix(imp, "github.com/urfave/cli") {
				t.Errorf("%s imports %s: only package main may", rel, imp)
			}
			if ours, ok := strings.CutPrefix(imp, module+"/"); ok && !slices.Contains(allowed, ours) {
				t.Errorf("%s imports %s, against the layout's arrows (it may import %v)", rel, ours, allowed)
			}
		}
	}
}

// TestMainOwnsNoDatabaseHandle: package main parses flags, renders and maps
// exit codes; a type of its that holds a *engine.DB would be orchestration
// that belongs in a package an application can import.
func TestMainOwnsNoDatabaseHandle(t *testing.T) {
	fset := token.NewFileSet()
	pkgs, err := parser.ParseDir(fset, ".", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, pkg := range pkgs {
		for name, file := range pkg.Files {
			if strings.HasSuffix(name, "_test.go") {
				continue
			}
			ast.Inspect(file, func(n ast.Node) bool {
				st, ok := n.(*ast.StructType)
				if !ok {
					return true
				}
				for _, field := range st.Fields.List {
					if holdsDB(field.Type) {
						t.Errorf("%s: a type in package main holds a database handle", fset.Position(field.Pos()))
					}
				}
				return true
			})
		}
	}
}

// holdsDB reports whether a field's type is engine.DB, a pointer to it, or
// a slice, array or map of those.
func holdsDB(e ast.Expr) bool {
	switch x := e.(type) {
	case *ast.StarExpr:
		return holdsDB(x.X)
	case *ast.ArrayType:
		return holdsDB(x.Elt)
	case *ast.MapType:
		return holdsDB(x.Key) || holdsDB(x.Value)
	case *ast.SelectorExpr:
		pkg, ok := x.X.(*ast.Ident)
		return ok && pkg.Name == "engine" && x.Sel.Name == "DB"
	}
	return false
}
