package arch

import (
	"bufio"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// Comments are part of the code a newcomer reads: a file a comment names must exist, and planning notes ("issue
// 5: ...") belong in the tracker, not in the tree. These tests read the comments of every Go, YAML, Makefile,
// shell and Python file.

// sharedDocs are the project documents kept beside the repository (../shared/docs), which comments may name.
var sharedDocs = []string{"style.md", "toolchain.md", "grant-lifecycle.md", "performance.md"}

// fileRef matches what reads as a file name: a path ending in an extension the tree uses.
var fileRef = regexp.MustCompile(`[A-Za-z0-9_.\-/]*[A-Za-z0-9_\-]\.(go|ya?ml|json|jsonl|md|sh|py|toml)\b`)

var issueRef = regexp.MustCompile(`(?i)\bissues? [0-9]+`)

// comment returns the comment on a line of a file of that kind, or false.
func comment(path, line string) (string, bool) {
	trimmed := strings.TrimSpace(line)
	switch ext := filepath.Ext(path); {
	case ext == ".go":
		if _, c, ok := strings.Cut(line, "// "); ok && !strings.Contains(line[:strings.Index(line, "// ")], `"`) {
			return c, true
		}
		return "", false
	case ext == ".yaml" || ext == ".yml" || ext == ".sh" || ext == ".py" || ext == ".toml" || filepath.Base(path) == "Makefile" || filepath.Base(path) == "run":
		if strings.HasPrefix(trimmed, "#") {
			return strings.TrimLeft(trimmed, "# "), true
		}
		if i := strings.Index(line, " # "); i >= 0 && !strings.ContainsAny(line[:i], `"'`) {
			return line[i+3:], true
		}
	}
	return "", false
}

// commented walks the tree's commented files and calls fn for each comment with its file (slash path from the
// root) and line number.
func commented(t *testing.T, root string, fn func(rel string, n int, text string)) {
	t.Helper()
	err := filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == ".git" || d.Name() == "testdata" || d.Name() == "node_modules" || d.Name() == ".aws-sam") {
			return filepath.SkipDir
		}
		if d.IsDir() {
			return nil
		}
		rel, _ := filepath.Rel(root, path)
		rel = filepath.ToSlash(rel)
		if _, ok := comment(rel, ""); !ok && !slices.Contains([]string{".go", ".yaml", ".yml", ".sh", ".py", ".toml"}, filepath.Ext(rel)) &&
			d.Name() != "Makefile" && rel != ".ci/run" {
			return nil
		}
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for n := 1; sc.Scan(); n++ {
			if text, ok := comment(rel, sc.Text()); ok {
				fn(rel, n, text)
			}
		}
		return sc.Err()
	})
	if err != nil {
		t.Fatal(err)
	}
}

// exists reports whether name, as written in a comment of file rel, is a file or folder of the tree: relative to
// the file's folder, to the root, to pkg/ (as in "lifecycle/notify.go"), or one of the shared documents.
func exists(root, rel, name string) bool {
	name = strings.TrimPrefix(strings.TrimSuffix(name, "."), "./")
	if slices.Contains(sharedDocs, filepath.Base(name)) {
		return true
	}
	for _, base := range []string{filepath.Dir(filepath.Join(root, rel)), root, filepath.Join(root, "pkg")} {
		if _, err := os.Stat(filepath.Join(base, filepath.FromSlash(name))); err == nil {
			return true
		}
	}
	return false
}

// TestCommentsNameFilesThatExist fails on a comment that names a file the tree does not have.
func TestCommentsNameFilesThatExist(t *testing.T) {
	root := filepath.Join("..", "..")
	checked := 0
	commented(t, root, func(rel string, n int, text string) {
		for _, m := range fileRef.FindAllStringIndex(text, -1) {
			name := text[m[0]:m[1]]
			before, after := text[:m[0]], text[m[1]:]
			switch {
			case strings.HasSuffix(before, "://") || strings.Contains(name, "amazonaws.com") || strings.HasPrefix(name, "."):
				continue // a URL or a host, not a file
			case strings.HasSuffix(before, "*") || strings.HasSuffix(before, "<") || strings.HasSuffix(before, ">") ||
				strings.HasPrefix(after, ">") || strings.HasSuffix(before, "-") || strings.HasPrefix(name, "_"):
				continue // a pattern: *.json, <name>.golden.json, functions/<name>/main.go, _test.go
			case strings.HasPrefix(after, "#"):
				continue // a record's source, file#index, as replay names it
			}
			checked++
			if !exists(root, rel, name) {
				t.Errorf("%s:%d: the comment names %s, which does not exist", rel, n, name)
			}
		}
	})
	t.Logf("checked %d file names in comments", checked)
	if checked < 50 {
		t.Errorf("checked %d file names in comments; want the tree's (did the walk miss it?)", checked)
	}
}

// TestNoIssueComments fails on a comment that refers to an issue by number.
func TestNoIssueComments(t *testing.T) {
	commented(t, filepath.Join("..", ".."), func(rel string, n int, text string) {
		if m := issueRef.FindString(text); m != "" {
			t.Errorf("%s:%d: the comment refers to %q; say what the code does and why instead", rel, n, m)
		}
	})
}

// TestCommentCheckers is the test of those tests: a stale file name and an issue note are caught, patterns and
// URLs are not taken for files.
func TestCommentCheckers(t *testing.T) {
	root := filepath.Join("..", "..")
	for _, tt := range []struct {
		rel, line string
		want      []string // the file names a comment there names
	}{
		{"pkg/app/x.go", "\t// see backfill.go and lifecycle/notify.go", []string{"backfill.go", "lifecycle/notify.go"}},
		{"template.yaml", "  # see pkg/app/gone.go", []string{"pkg/app/gone.go"}},
		{"pkg/app/x.go", `	s := "// not a comment.go"`, nil},
	} {
		text, _ := comment(tt.rel, tt.line)
		if got := fileRef.FindAllString(text, -1); !slices.Equal(got, tt.want) {
			t.Errorf("names in %q = %v; want %v", tt.line, got, tt.want)
		}
	}
	if !exists(root, "pkg/app/x.go", "backfill.go") || !exists(root, "pkg/app/x.go", "lifecycle/notify.go") || !exists(root, "Makefile", "toolchain.md") {
		t.Error("existing files are reported missing")
	}
	if exists(root, "pkg/app/x.go", "memory_checkpoint.go") || exists(root, "template.yaml", "pkg/app/gone.go") {
		t.Error("a missing file is reported present")
	}
	if text, _ := comment("Makefile", "# Issue 3: the sweep."); !issueRef.MatchString(text) {
		t.Error("an issue note in a Makefile comment is not caught")
	}
}
