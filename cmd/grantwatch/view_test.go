package main

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/olekukonko/tablewriter/pkg/twwidth"

	"github.com/grantwatch/grantwatch/pkg/param"
)

func TestHuman(t *testing.T) {
	for d, want := range map[time.Duration]string{
		0: "0s", 450 * time.Millisecond: "450ms", 45 * time.Second: "45s", 90 * time.Second: "1m 30s", time.Hour: "1h",
		39*time.Hour + 50*time.Minute: "1d 15h", 24 * time.Hour: "1d", 76 * time.Hour: "3d 4h", 72*time.Hour + 5*time.Minute: "3d",
		21954*time.Hour + 54*time.Minute + 17679988529: "914d 18h", -90 * time.Minute: "-1h 30m",
	} {
		if got := human(d); got != want {
			t.Errorf("human(%v) = %q; want %q", d, got, want)
		}
	}
	// What the CLI prints, people can type back.
	for _, d := range []time.Duration{45 * time.Second, 90 * time.Minute, 76 * time.Hour, 24 * time.Hour} {
		if back, err := param.Age("--older-than", human(d)); err != nil || back != d {
			t.Errorf("param.Age(human(%v) = %q) = %v, %v; want it back", d, human(d), back, err)
		}
	}
}

func TestHumanText(t *testing.T) {
	id := "0202be99679f2e780907af0d2edb2fa40ec07461e7dc2942ad2d8d6fae882266"
	msg := "secondary grant " + id + " has been active for 21954h54m17.679988529s, longer than 24h0m0s: event 5e2d8618-6d30-5ed9-89c6-4310a9f71113, 30s"
	want := "secondary grant 0202be99679f has been active for 914d 18h, longer than 1d: event 5e2d8618-6d30-5ed9-89c6-4310a9f71113, 30s"
	if got := humanText(msg, true); got != want {
		t.Errorf("humanText(short) =\n%s\nwant\n%s", got, want)
	}
	if got := humanText(msg, false); !strings.Contains(got, id) || strings.Contains(got, "24h0m0s") {
		t.Errorf("humanText(wide) = %s; want the full id and human durations", got)
	}
}

func TestMiddle(t *testing.T) {
	arn := "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-010000000001"
	for _, n := range []int{75, 80, 40, 30, 12} {
		got := middle(arn, n)
		if w := twwidth.Width(got); w != min(n, len(arn)) {
			t.Errorf("middle(arn, %d) = %q, %d columns", n, got, w)
		}
		if n < len(arn) && (!strings.Contains(got, "…") || !strings.HasPrefix(got, "arn:") || !strings.HasSuffix(got, arn[len(arn)-n/2:])) {
			t.Errorf("middle(arn, %d) = %q; want its start, an ellipsis and the longer part of its end", n, got)
		}
	}
}

func TestWrap(t *testing.T) {
	for _, tt := range []struct {
		in   string
		n    int
		want []string
	}{
		{"short", 10, []string{"short"}},
		{"one two three four", 9, []string{"one two", "three", "four"}},
		{"event 5797649f-93eb-558c-99e5-a609917617d5", 25, []string{"event 5797649f-93eb-558c-", "99e5-a609917617d5"}},
		{"arn:aws:sts::111122223333:assumed-role/RoleForModelCopy/SampleUser01", 30,
			[]string{"arn:aws:sts::111122223333:", "assumed-role/RoleForModelCopy/", "SampleUser01"}},
		{"0123456789abcdef", 6, []string{"012345", "6789ab", "cdef"}},
	} {
		got := wrap(tt.in, tt.n)
		if strings.Join(got, "|") != strings.Join(tt.want, "|") {
			t.Errorf("wrap(%q, %d) = %q; want %q", tt.in, tt.n, got, tt.want)
		}
		for _, l := range got {
			if twwidth.Width(l) > tt.n {
				t.Errorf("wrap(%q, %d): line %q is wider", tt.in, tt.n, l)
			}
		}
	}
}

// TestTableFits: at every width the table's lines fit, shortening what may be shortened and leaving out what may
// be left out (and saying so); -o wide prints everything; JSON and CSV are other code paths and never cut.
func TestTableFits(t *testing.T) {
	key := "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-010000000001"
	id := "0102381c786c9b7dea68c477c3cd775e83df21675a72b533994ad18ad07d7f01"
	rows := [][]string{{id, key, "secondary", "retired", id, "2024-05-30T10:01:00Z", "59m", "2024-05-30T11:00:00Z", "RetireGrant", "AWSService/bedrock.amazonaws.com"}}
	for _, width := range []int{200, 120, 100, 80} {
		var out bytes.Buffer
		p := &printer{w: &out, format: outTable, width: width}
		if err := p.table("Grants (1)", grantCols(), rows); err != nil {
			t.Fatal(err)
		}
		for _, l := range strings.Split(strings.TrimSpace(out.String()), "\n") {
			if twwidth.Width(l) > width {
				t.Errorf("width %d: line of %d columns:\n%s", width, twwidth.Width(l), out.String())
			}
		}
		if strings.Contains(out.String(), id) || !strings.Contains(out.String(), shortID(id)) {
			t.Errorf("width %d: the table should show the short id only:\n%s", width, out.String())
		}
		if dropped := strings.Contains(out.String(), "left out to fit"); dropped == strings.Contains(out.String(), "2024-05-30T11:00:00Z") {
			t.Errorf("width %d: ENDED either shown or said to be left out, not both or neither:\n%s", width, out.String())
		}
		if width == 200 && !strings.Contains(out.String(), key) {
			t.Errorf("width 200: the key ARN fits whole and should not be shortened:\n%s", out.String())
		}
	}
	var out bytes.Buffer
	p := &printer{w: &out, format: outWide}
	if err := p.table("", grantCols(), rows); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{id, key, "RetireGrant", "AWSService/bedrock.amazonaws.com", "ENDED BY"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("-o wide lacks %q:\n%s", want, out.String())
		}
	}
}

func TestOutputWidth(t *testing.T) {
	var buf bytes.Buffer
	t.Setenv("COLUMNS", "")
	if got := outputWidth(&buf); got != defaultWidth {
		t.Errorf("not a terminal, no COLUMNS: width %d; want %d", got, defaultWidth)
	}
	t.Setenv("COLUMNS", "91")
	if got := outputWidth(&buf); got != 91 {
		t.Errorf("COLUMNS=91: width %d", got)
	}
	t.Setenv("COLUMNS", "wide")
	if got := outputWidth(&buf); got != defaultWidth {
		t.Errorf("COLUMNS=wide: width %d; want the default", got)
	}
}
