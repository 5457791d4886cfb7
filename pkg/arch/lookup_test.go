package arch

import (
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// lookupOnly are imports that only pkg/trail/lookup.go may have in pkg/trail (issue 5; style.md §2: "only trail's
// lookup file imports SDK cloudtrail"): the adapter stays one file, and decoding stays free of the SDK.
var lookupOnly = []string{"github.com/aws/aws-sdk-go-v2", "github.com/aws/smithy-go", "golang.org/x/time/rate", "pkg/app"}

// cloudTrailSDK may be imported by one file in the whole module, tests included.
const cloudTrailSDK = "github.com/aws/aws-sdk-go-v2/service/cloudtrail"

func TestOnlyLookupImportsCloudTrail(t *testing.T) {
	root := filepath.Join("..", "..")
	found := false
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == ".git" || d.Name() == "testdata" || d.Name() == "node_modules") {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") {
			return nil
		}
		rel, _ := filepath.Rel(root, path)
		rel = filepath.ToSlash(rel)
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		for _, spec := range f.Imports {
			imp, _ := strconv.Unquote(spec.Path.Value)
			if imp == cloudTrailSDK || strings.HasPrefix(imp, cloudTrailSDK+"/") {
				if rel != "pkg/trail/lookup.go" {
					t.Errorf("%s imports %s; only pkg/trail/lookup.go may", rel, imp)
				}
				found = true
			}
			if filepath.ToSlash(filepath.Dir(rel)) != "pkg/trail" || rel == "pkg/trail/lookup.go" || strings.HasSuffix(rel, "_test.go") {
				continue
			}
			for _, p := range lookupOnly {
				local := strings.TrimPrefix(imp, module)
				if strings.HasPrefix(imp, p) || local == p {
					t.Errorf("%s imports %s; in pkg/trail only lookup.go may", rel, imp)
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if !found {
		t.Error("no file imports the cloudtrail SDK: the check above tested nothing (was lookup.go moved?)")
	}
}
