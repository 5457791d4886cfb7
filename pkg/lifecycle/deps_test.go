package lifecycle_test

import (
	"go/build"
	"strings"
	"testing"
)

// TestStdlibOnly keeps the domain free of AWS types and every other dependency (style.md §2).
func TestStdlibOnly(t *testing.T) {
	pkg, err := build.ImportDir(".", 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, imp := range pkg.Imports {
		if first, _, _ := strings.Cut(imp, "/"); strings.Contains(first, ".") {
			t.Errorf("lifecycle imports %q; the domain may import only the standard library", imp)
		}
	}
	for _, imp := range pkg.Imports {
		if imp == "log" || imp == "log/slog" || imp == "os" || imp == "net/http" {
			t.Errorf("lifecycle imports %q; the domain does no I/O and no logging", imp)
		}
	}
}
