// Package arch holds the architecture test: the dependency rules of style.md §2, checked on every package.
package arch

import (
	"fmt"
	"go/build"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/grantwatch/grantwatch/"

// allowed lists, per package, the non-standard imports it may have (prefix match). Packages not listed may import
// only the standard library and pkg/lifecycle. trail decodes and classifies, with no SDK; the adapters (store,
// alert, inventory, lookup, archive, org) each wrap one AWS API and import no other adapter.
var allowed = map[string][]string{
	"pkg/lifecycle": {},
	"pkg/app":       {"pkg/lifecycle", "pkg/retry"},
	"pkg/retry":     {},
	"pkg/emf":       {},
	"pkg/trail":     {"pkg/lifecycle", "github.com/go-json-experiment/json"},
	"pkg/inventory": {"pkg/lifecycle", "pkg/app", "github.com/aws/aws-sdk-go-v2", "github.com/aws/smithy-go"},
	"pkg/lookup":    {"pkg/lifecycle", "pkg/app", "pkg/trail", "github.com/aws/aws-sdk-go-v2", "github.com/aws/smithy-go", "golang.org/x/time/rate"},
	"pkg/archive":   {"pkg/trail", "pkg/replay", "github.com/aws/aws-sdk-go-v2", "github.com/aws/smithy-go", "golang.org/x/sync"},
	"pkg/handler":   {"pkg/lifecycle", "pkg/trail", "pkg/app", "pkg/param", "pkg/queryapi", "pkg/emf", "github.com/aws/aws-lambda-go/events"},
	"pkg/env":       {"pkg/lifecycle", "pkg/app", "pkg/param"}, // its problems are app.InputErrors, from the one parser of each value
	"pkg/replay":    {"pkg/lifecycle", "pkg/trail", "pkg/app"},
	"pkg/store":     {"pkg/lifecycle", "pkg/app", "github.com/aws/aws-sdk-go-v2", "github.com/aws/smithy-go"},
	"pkg/alert":     {"pkg/lifecycle", "pkg/app", "github.com/aws/aws-sdk-go-v2", "github.com/aws/smithy-go"},
	"pkg/org":       {"pkg/lifecycle", "pkg/app", "github.com/aws/aws-sdk-go-v2", "github.com/aws/smithy-go"},
	"pkg/wire":      {"pkg/lifecycle", "pkg/app", "pkg/env", "pkg/store", "pkg/alert", "pkg/emf", "github.com/aws/aws-sdk-go-v2", "github.com/aws/aws-lambda-go"}, // the functions' shared composition root
	// Member accounts for the use cases: the org, lookup and inventory adapters joined, for the composition roots.
	"pkg/members": {"pkg/lifecycle", "pkg/app", "pkg/org", "pkg/lookup", "pkg/inventory", "github.com/aws/aws-sdk-go-v2"},
	// The edge of the use cases, shared by pkg/handler and cmd/grantwatch: input parsing, and the query side's wire
	// format. They build on app (its errors, filters and results) and import no adapter.
	"pkg/param":    {"pkg/lifecycle", "pkg/app"},
	"pkg/queryapi": {"pkg/lifecycle", "pkg/app"},
}

// testSupport is where test-only packages live. They may import any product package (a fixture replays into a
// store), but only _test.go files import them: nothing that ships may depend on test support.
const testSupport = "internal/"

// adapters wrap one AWS API each; none may import another (checked beside allowed, so a rule added there cannot
// open that door by mistake).
var adapters = []string{"pkg/store", "pkg/alert", "pkg/inventory", "pkg/lookup", "pkg/archive", "pkg/org"}

// sdkFree packages must never import the AWS SDK, whatever allowed says.
var sdkFree = []string{"pkg/lifecycle", "pkg/app", "pkg/trail", "pkg/replay"}

func TestDependencyRules(t *testing.T) {
	root := filepath.Join("..", "..")
	checked := 0
	for _, dir := range packageDirs(t, root) {
		rel, _ := filepath.Rel(root, dir)
		rel = filepath.ToSlash(rel)
		pkg, err := build.ImportDir(dir, 0)
		if err != nil {
			continue // a folder with only tests or no Go files
		}
		checked++
		for _, v := range violations(rel, pkg.Imports) {
			t.Error(v)
		}
	}
	if checked < len(allowed) {
		t.Errorf("checked %d packages; want at least the %d with rules (did the walk miss the tree?)", checked, len(allowed))
	}
}

// TestRulesCatchViolations is the test of the test: each broken rule must be reported.
func TestRulesCatchViolations(t *testing.T) {
	// Each package, with imports that break a rule: an SDK or a use case in the decoder, an edge in the domain, an
	// adapter in a use case or in another adapter, a main package, an unlisted dependency, test support outside tests.
	broken := map[string][]string{
		"pkg/trail":        {"github.com/aws/aws-sdk-go-v2/service/cloudtrail", module + "pkg/app"},
		"pkg/lifecycle":    {module + "pkg/trail"},
		"pkg/app":          {module + "pkg/store", module + "pkg/inventory", module + "pkg/lookup"},
		"pkg/lookup":       {module + "pkg/store"},
		"pkg/archive":      {module + "pkg/lookup"},
		"pkg/inventory":    {module + "pkg/store"},
		"pkg/alert":        {module + "pkg/store"},
		"pkg/org":          {module + "pkg/lookup", module + "pkg/inventory"},
		"pkg/members":      {module + "pkg/store"},
		"pkg/store":        {module + "pkg/archive"},
		"pkg/replay":       {"github.com/aws/aws-sdk-go-v2/service/s3"},
		"pkg/handler":      {module + "cmd/grantwatch", module + "internal/golden"},
		"pkg/unlisted":     {"github.com/spf13/cobra"},
		"functions/ingest": {module + "internal/testenv"},
		"cmd/grantwatch":   {module + "internal/lookuptest"},
	}
	for pkg, imps := range broken {
		for _, imp := range imps {
			if v := violations(pkg, []string{imp}); len(v) == 0 {
				t.Errorf("%s importing %s is not reported", pkg, imp)
			}
		}
	}
	for _, ok := range [][2]string{{"pkg/lookup", module + "pkg/trail"}, {"pkg/trail", "encoding/json"}, {"cmd/grantwatch", module + "pkg/store"},
		{"internal/fixture", module + "pkg/store"}, {"internal/trailgen/gen", module + "internal/trailgen"}} {
		if v := violations(ok[0], []string{ok[1]}); len(v) != 0 {
			t.Errorf("%s importing %s is reported: %v", ok[0], ok[1], v)
		}
	}
}

// violations returns what is wrong with package rel (a slash path from the module root) importing imports.
func violations(rel string, imports []string) []string {
	var out []string
	for _, imp := range imports {
		local, isLocal := strings.CutPrefix(imp, module)
		if isLocal && (strings.HasPrefix(local, "functions/") || strings.HasPrefix(local, "cmd/")) {
			out = append(out, rel+" imports "+imp+": nothing may import a main package")
		}
		if isLocal && strings.HasPrefix(local, testSupport) && !strings.HasPrefix(rel, testSupport) {
			out = append(out, rel+" imports "+imp+": only _test.go files may import test support")
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
			out = append(out, fmt.Sprintf("%s imports %s; allowed: standard library and %v", rel, imp, rules))
		}
		if isLocal && slices.Contains(adapters, rel) && slices.ContainsFunc(adapters, func(a string) bool { return local == a || strings.HasPrefix(local, a+"/") }) {
			out = append(out, rel+" imports "+imp+": an adapter imports no other adapter")
		}
		if slices.Contains(sdkFree, rel) && strings.HasPrefix(imp, "github.com/aws/aws-sdk-go-v2") {
			out = append(out, rel+" imports "+imp+": it must stay free of the AWS SDK")
		}
	}
	return out
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
	for _, top := range []string{"pkg", "functions", "cmd", "internal"} {
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
