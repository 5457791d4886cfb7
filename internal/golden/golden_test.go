package golden

import (
	"os"
	"path/filepath"
	"testing"
)

func TestDiff(t *testing.T) {
	tests := []struct {
		name      string
		want, got string
		diff      string
	}{
		{name: "equal", want: "a\nb\n", got: "a\nb\n", diff: "  a\n  b\n"},
		{name: "changed line", want: "a\nb\nc\n", got: "a\nB\nc\n", diff: "  a\n- b\n+ B\n  c\n"},
		{name: "added at end", want: "a\n", got: "a\nb\n", diff: "  a\n+ b\n"},
		{name: "removed at start", want: "a\nb\n", got: "b\n", diff: "- a\n  b\n"},
		{name: "missing final newline", want: "a\n", got: "a", diff: "- a\n+ a (no newline at end)\n"},
		{
			name: "long runs cut short",
			want: "1\n2\n3\n4\n5\nx\n6\n7\n8\n9\n10\n11\n12\ny\n13\n14\n15\n16\n",
			got:  "1\n2\n3\n4\n5\nX\n6\n7\n8\n9\n10\n11\n12\ny\n13\n14\n15\n16\n",
			diff: "  ... 2 unchanged lines ...\n  3\n  4\n  5\n- x\n+ X\n  6\n  7\n  8\n  ... 9 unchanged lines ...\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := diff(tt.want, tt.got); got != tt.diff {
				t.Errorf("diff(%q, %q) =\n%s\nwant\n%s", tt.want, tt.got, got, tt.diff)
			}
		})
	}
}

func TestFirstDifference(t *testing.T) {
	got := firstDifference(lines("a\nb\n"), lines("a\n"))
	if want := "first difference at line 2:\n- b\n+ (end of file)\n"; got != want {
		t.Errorf("firstDifference = %q; want %q", got, want)
	}
}

func TestAssert(t *testing.T) {
	path := filepath.Join(t.TempDir(), "out.golden")
	if err := os.WriteFile(path, []byte("same\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	Assert(t, path, []byte("same\n"))

	*update = true
	t.Cleanup(func() { *update = false })
	newPath := filepath.Join(t.TempDir(), "sub", "new.golden")
	Assert(t, newPath, []byte("new\n"))
	got, err := os.ReadFile(newPath)
	if err != nil || string(got) != "new\n" {
		t.Errorf("after -update, %s = %q, %v; want %q", newPath, got, err, "new\n")
	}
}
