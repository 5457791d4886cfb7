// Package arch holds the architecture test: the dependency rules of style.md §2, checked on every package.
package arch

import (
	"go/build"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const module = "github.com/grantwatch/grantwatch/"

// allowed lists, per package, the non-standard imports it may have (prefix match). Packages not listed may import
// only the standard library and pkg/lifecycle. Issue 5: pkg/trail's SDK, smithy, x/time and pkg/app imports are
// for lookup.go alone (lookup_test.go checks that); pkg/inventory is the KMS ListGrants adapter.
var allowed = map[string][]string{
	"pkg/lifecycle":  {},
	"pkg/app":        {"pkg/lifecycle", "pkg/retry"},
	"pkg/retry":      {},
	"pkg/emf":        {},
	"pkg/trail":      {"pkg/lifecycle", "github.com/aws/aws-lambda-go/events", "pkg/app", "github.com/aws/aws-sdk-go-v2", "github.com/aws/smithy-go", "golang.org/x/time/rate"},
	"pkg/inventory":  {"pkg/lifecycle", "pkg/app", "github.com/aws/aws-sdk-go-v2", "github.com/aws/smithy-go"},
	"pkg/handler":    {"pkg/lifecycle", "pkg/trail", "pkg/app", "pkg/param", "pkg/queryapi", "pkg/emf", "github.com/aws/aws-lambda-go/events"},
	"pkg/env":        {"pkg/lifecycle"},
	"pkg/replay":     {"pkg/lifecycle", "pkg/trail", "pkg/app"},
	"pkg/store":      {"pkg/lifecycle", "pkg/app", "github.com/aws/aws-sdk-go-v2", "github.com/aws/smithy-go"},
	"pkg/alert":      {"pkg/lifecycle", "pkg/app", "github.com/aws/aws-sdk-go-v2", "github.com/aws/smithy-go"},
	"pkg/wire":       {"pkg/lifecycle", "pkg/app", "pkg/env", "pkg/store", "pkg/alert", "pkg/emf", "github.com/aws/aws-sdk-go-v2"}, // the functions' shared composition root
	"pkg/golden":     {},
	"pkg/testenv":    {"github.com/aws/aws-sdk-go-v2"},
	"pkg/lambdatest": {},
	// The edge of the use cases, shared by pkg/handler and cmd/grantwatch: input parsing, and the query side's wire
	// format. They build on app (its errors, filters and results) and import no adapter.
	"pkg/param":    {"pkg/lifecycle", "pkg/app"},
	"pkg/queryapi": {"pkg/lifecycle", "pkg/app"},
}

func TestDependencyRules(t *testing.T) {
	root := filepath.Join("..", "..")
	for _, dir := range packageDirs(t, root) {
		rel, _ := filepath.Rel(root, dir)
		rel = filepath.ToSlash(rel)
		pkg, err := build.ImportDir(dir, 0)
		if err != nil {
			continue // a folder with only tests or no Go files
		}
		for _, imp := range pkg.Imports {
			local, isLocal := strings.CutPrefix(imp, module)
			if isLocal && (strings.HasPrefix(local, "functions/") || strings.HasPrefix(local, "cmd/")) {
				t.Errorf("%s imports %s: nothing may import a main package", rel, imp)
			}
			if !strings.HasPrefix(rel, "pkg/") || rel == "pkg/arch" {
				continue // functions/* and cmd/* are composition roots: they may import anything
			}
			first, _, _ := strings.Cut(imp, "/")
			if !isLocal && !strings.Contains(first, ".") {
				continue // standard library
			}
			rules, ok := allowed[rel]
			if !ok {
				rules = []string{"pkg/lifecycle"}
			}
			if !permitted(imp, local, isLocal, rules) {
				t.Errorf("%s imports %s; allowed: standard library and %v", rel, imp, rules)
			}
		}
	}
}

func permitted(imp, local string, isLocal bool, rules []string) bool {
	for _, r := range rules {
		if (isLocal && (local == r || strings.HasPrefix(local, r+"/"))) || (!isLocal && strings.HasPrefix(imp, r)) {
			return true
		}
	}
	return false
}

func packageDirs(t *testing.T, root string) []string {
	t.Helper()
	var dirs []string
	for _, top := range []string{"pkg", "functions", "cmd"} {
		err := filepath.WalkDir(filepath.Join(root, top), func(path string, d os.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() && d.Name() == "testdata" {
				return filepath.SkipDir
			}
			if d.IsDir() {
				dirs = append(dirs, path)
			}
			return nil
		})
		if err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
	}
	return dirs
}
