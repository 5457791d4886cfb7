package main

// What people read: tables that fit the terminal, short grant ids, human durations. -o wide shows every column in
// full; JSON and CSV are complete whatever the terminal (they are for scripts, and stay exactly as they were).

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/olekukonko/tablewriter"
	"github.com/olekukonko/tablewriter/pkg/twwidth"
	"github.com/olekukonko/tablewriter/renderer"
	"github.com/olekukonko/tablewriter/tw"
)

// The output formats of -o.
const (
	outTable = "table"
	outWide  = "wide"
	outJSON  = "json"
	outCSV   = "csv"
)

var outputs = []string{outTable, outWide, outJSON, outCSV}

// defaultWidth is the width of tables that go to a file or a pipe, when COLUMNS does not say otherwise.
const defaultWidth = 120

// shortIDLen is the one short form of a grant id in tables and messages: 48 bits of a real (64 hex digit) id, so
// ids that share it are rare enough that the commands taking a prefix resolve any of them, and it fits beside a key.
const shortIDLen = 12

// gap separates columns.
const gap = "  "

func itoa(n int) string { return strconv.Itoa(n) }

// shortID is the short form of a grant id. It is a prefix, so it can be pasted back into any command.
func shortID(id string) string { return id[:min(len(id), shortIDLen)] }

// fit says how a column may be made narrower to fit the terminal.
type fit int

const (
	fixed fit = iota // never shortened: kinds, states, times, counts
	ident            // a grant id: its short form in tables, in full with -o wide
	arn              // an ARN or principal: an ellipsis in the middle, where the distinguishing end survives
	text             // free text: wrapped; grant ids in it are shortened and Go durations made human
	prose            // free text that names ids as given: wrapped, durations made human
)

// col is one column of a table.
type col struct {
	head   string
	fit    fit
	min    int  // the narrowest an arn or text column may become
	drop   int  // when even the narrowest columns are too wide, columns with drop > 0 go, highest first
	wide   bool // only with -o wide
	narrow bool // only in the fitted table: -o wide shows what it sums up in columns of their own
}

// printer writes a command's results in the format -o asked for.
type printer struct {
	w      io.Writer
	format string
	width  int  // of tables; 0 means unlimited (-o wide)
	local  bool // --local-time
}

func newPrinter(w io.Writer, format string, local bool) *printer {
	p := &printer{w: w, format: format, local: local}
	if format != outWide {
		p.width = outputWidth(w)
	}
	return p
}

// outputWidth is the terminal's width when w is one, else COLUMNS, else defaultWidth.
func outputWidth(w io.Writer) int {
	if f, ok := w.(*os.File); ok {
		if n, ok := terminalWidth(f); ok {
			return n
		}
	}
	if n, err := strconv.Atoi(os.Getenv("COLUMNS")); err == nil && n > 0 {
		return n
	}
	return defaultWidth
}

func (p *printer) people() bool { return p.format == outTable || p.format == outWide }

// time formats t as RFC 3339, in UTC or with --local-time in the local zone; a missing time is empty.
func (p *printer) time(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	if p.local {
		return t.Local().Format(time.RFC3339)
	}
	return t.UTC().Format(time.RFC3339)
}

func (p *printer) json(v any) error {
	enc := json.NewEncoder(p.w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func (p *printer) csv(header []string, rows [][]string) error {
	cw := csv.NewWriter(p.w)
	if err := cw.Write(header); err != nil {
		return err
	}
	if err := cw.WriteAll(rows); err != nil {
		return err
	}
	return cw.Error()
}

// line prints free text indented by indent, in tables wrapped to the table width.
func (p *printer) line(indent int, format string, args ...any) {
	s := fmt.Sprintf(format, args...)
	pad := strings.Repeat(" ", indent)
	switch p.format {
	case outTable:
		s = strings.Join(wrap(humanText(s, true), p.width-indent), "\n"+pad)
	case outWide:
		s = humanText(s, false)
	}
	fmt.Fprintln(p.w, pad+s)
}

// table prints title and, when there are rows, the table under it, fitted to p.width.
func (p *printer) table(title string, cols []col, rows [][]string) error {
	if title != "" {
		fmt.Fprintln(p.w, title)
	}
	if len(rows) == 0 {
		return nil
	}
	wide := p.format == outWide
	var show []int
	for i, c := range cols {
		if wide && !c.narrow || !wide && !c.wide {
			show = append(show, i)
		}
	}
	cells := make([][]string, len(rows))
	for r, row := range rows {
		cells[r] = make([]string, len(show))
		for j, i := range show {
			cells[r][j] = cellText(cols[i].fit, row[i], wide)
		}
	}
	allShown := show
	widths, dropped := layout(cols, show, cells, p.width)
	if len(dropped) > 0 {
		keep := make([]int, 0, len(show))
		for j := range show {
			if !slices.Contains(dropped, j) {
				keep = append(keep, j)
			}
		}
		show, widths = pick(show, keep), pick(widths, keep)
		for r := range cells {
			cells[r] = pick(cells[r], keep)
		}
	}
	var buf bytes.Buffer
	t := tablewriter.NewTable(&buf,
		tablewriter.WithRenderer(renderer.NewBlueprint(tw.Rendition{
			Borders:  tw.BorderNone,
			Symbols:  tw.NewSymbols(tw.StyleNone),
			Settings: tw.Settings{Separators: tw.Separators{BetweenColumns: tw.Off, BetweenRows: tw.Off}, Lines: tw.Lines{ShowHeaderLine: tw.Off}},
		})),
		tablewriter.WithConfig(tablewriter.Config{
			Header: tw.CellConfig{Alignment: tw.CellAlignment{Global: tw.AlignLeft}, Formatting: tw.CellFormatting{AutoFormat: tw.On}},
			Row:    tw.CellConfig{Alignment: tw.CellAlignment{Global: tw.AlignLeft}, Formatting: tw.CellFormatting{AutoWrap: tw.WrapNone}},
		}),
		tablewriter.WithPadding(tw.Padding{Right: gap, Overwrite: true}),
		tablewriter.WithTrimSpace(tw.Off),
	)
	head := make([]any, len(show))
	for j, i := range show {
		head[j] = cols[i].head
	}
	t.Header(head...)
	for _, row := range cells {
		out := make([]any, len(row))
		for j, s := range row {
			out[j] = shorten(cols[show[j]].fit, s, widths[j])
		}
		if err := t.Append(out...); err != nil {
			return err
		}
	}
	if err := t.Render(); err != nil {
		return err
	}
	// The renderer pads every cell, the last one too: people's terminals and golden files want no trailing blanks.
	for _, l := range strings.Split(strings.TrimRight(buf.String(), "\n"), "\n") {
		fmt.Fprintln(p.w, strings.TrimRight(l, " "))
	}
	if len(dropped) > 0 {
		var names []string
		for _, j := range dropped {
			names = append(names, strings.ToUpper(cols[allShown[j]].head))
		}
		fmt.Fprintf(p.w, "(%s left out to fit %d columns; -o wide shows every column)\n", strings.Join(names, ", "), p.width)
	}
	return nil
}

func pick[T any](s []T, idx []int) []T {
	out := make([]T, len(idx))
	for i, j := range idx {
		out[i] = s[j]
	}
	return out
}

// cellText is what a cell shows before fitting: ids short in tables, durations human everywhere people read.
func cellText(f fit, s string, wide bool) string {
	switch f {
	case ident:
		if !wide {
			return shortID(s)
		}
	case text:
		return humanText(s, !wide)
	case prose:
		return humanText(s, false)
	}
	return s
}

// layout returns the width of each shown column: its natural width, then, while the table is wider than width,
// one character less for the arn or text column with the most to spare (down to its min). Fixed columns never
// shrink; when the table is still too wide, the columns with a drop priority go (their indexes in show are returned),
// highest first, and the others widen back into the room. Width 0 means no limit.
func layout(cols []col, show []int, cells [][]string, width int) (widths, dropped []int) {
	natural := make([]int, len(show))
	for j, i := range show {
		natural[j] = twwidth.Width(strings.ToUpper(cols[i].head))
		for _, row := range cells {
			for _, l := range strings.Split(row[j], "\n") {
				natural[j] = max(natural[j], twwidth.Width(l))
			}
		}
	}
	if width <= 0 {
		return natural, nil
	}
	for {
		w, fits := shrink(cols, show, natural, dropped, width)
		if fits {
			return w, dropped
		}
		next, prio := -1, 0
		for j, i := range show {
			if c := cols[i]; c.drop > prio && !slices.Contains(dropped, j) {
				next, prio = j, c.drop
			}
		}
		if next < 0 {
			return w, dropped // as narrow as it goes: the terminal wraps the rest
		}
		dropped = append(dropped, next)
	}
}

// shrink narrows the arn and text columns, widest spare first, until the columns not dropped fit width.
func shrink(cols []col, show []int, natural, dropped []int, width int) ([]int, bool) {
	w := slices.Clone(natural)
	total := -len(gap)
	for j := range w {
		if !slices.Contains(dropped, j) {
			total += w[j] + len(gap)
		}
	}
	for total > width {
		best, spare := -1, 0
		for j, i := range show {
			c := cols[i]
			if c.fit != arn && c.fit != text && c.fit != prose || slices.Contains(dropped, j) {
				continue
			}
			if s := w[j] - max(c.min, twwidth.Width(strings.ToUpper(c.head)), 4); s > spare {
				best, spare = j, s
			}
		}
		if best < 0 {
			return w, false
		}
		w[best]--
		total--
	}
	return w, true
}

// shorten makes s fit width n as its column's fit allows.
func shorten(f fit, s string, n int) string {
	switch f {
	case arn:
		return middle(s, n)
	case text, prose:
		var out []string
		for _, l := range strings.Split(s, "\n") {
			out = append(out, wrap(l, n)...)
		}
		return strings.Join(out, "\n")
	}
	return s
}

// middle shortens s to n columns with an ellipsis in the middle, keeping more of the end: the end of an ARN
// (the key id, the role session) is what tells one from another.
func middle(s string, n int) string {
	if twwidth.Width(s) <= n || n < 3 {
		return s
	}
	r := []rune(s)
	head := (n - 1) * 2 / 5
	tail := n - 1 - head
	return string(r[:head]) + "…" + string(r[len(r)-tail:])
}

// wrap breaks s into lines of at most n columns: at spaces, else after a separator (- / : . ,), else anywhere.
func wrap(s string, n int) []string {
	if n < 1 || twwidth.Width(s) <= n {
		return []string{s}
	}
	var lines []string
	line := ""
	for _, word := range strings.Fields(s) {
		for twwidth.Width(word) > n {
			// A long word (an id, an ARN) starts on the current line when a fair part of it fits there.
			if room := n - twwidth.Width(line) - 1; line != "" && room >= 8 {
				cut := breakAt(word, room)
				lines, line, word = append(lines, line+" "+word[:cut]), "", word[cut:]
				continue
			}
			if line != "" {
				lines, line = append(lines, line), ""
			}
			cut := breakAt(word, n)
			lines, word = append(lines, word[:cut]), word[cut:]
		}
		switch {
		case line == "":
			line = word
		case twwidth.Width(line)+1+twwidth.Width(word) <= n:
			line += " " + word
		default:
			lines, line = append(lines, line), word
		}
	}
	if line != "" {
		lines = append(lines, line)
	}
	return lines
}

// breakAt is where a word wider than n columns is broken: after the last separator that keeps the first part
// within n, else at n runes.
func breakAt(word string, n int) int {
	r := []rune(word)
	limit := min(n, len(r))
	for i := limit; i > limit/2; i-- {
		if strings.ContainsRune("-/:.,_", r[i-1]) {
			return len(string(r[:i]))
		}
	}
	return len(string(r[:limit]))
}

// goDuration matches what time.Duration.String prints for a minute or more, and fractional seconds:
// 39h50m0s, 5m0s, 21954h54m17.679988529s, 1.5s.
var goDuration = regexp.MustCompile(`\b(?:[0-9]+h)?(?:[0-9]+m)?[0-9]+(?:\.[0-9]+)?s\b`)

// longID matches a grant id as KMS writes it (64 hex digits), in a message.
var longID = regexp.MustCompile(`\b[0-9a-f]{64}\b`)

// humanText rewrites the Go durations in a message as people write them (3d 4h), and, with short, the grant ids
// in it to their short form. Messages come from the rules as they are stored; JSON and CSV print them unchanged.
func humanText(s string, short bool) string {
	s = goDuration.ReplaceAllStringFunc(s, func(m string) string {
		d, err := time.ParseDuration(m)
		if err != nil || !strings.ContainsAny(m, "hm.") {
			return m
		}
		return human(d)
	})
	if short {
		s = longID.ReplaceAllStringFunc(s, shortID)
	}
	return s
}

// human writes d as people do: its largest unit of days, hours, minutes and seconds, and the next one when it is
// not zero (3d 4h, 1h 30m, 45s), rounded down; under a second, in milliseconds.
func human(d time.Duration) string {
	if d < 0 {
		return "-" + human(-d)
	}
	if d > 0 && d < time.Second {
		return strconv.FormatInt(d.Milliseconds(), 10) + "ms"
	}
	units := []struct {
		name string
		size time.Duration
	}{{"d", 24 * time.Hour}, {"h", time.Hour}, {"m", time.Minute}, {"s", time.Second}}
	for i, u := range units {
		if d < u.size {
			continue
		}
		out := strconv.FormatInt(int64(d/u.size), 10) + u.name
		if i+1 < len(units) {
			next := units[i+1]
			if n := (d % u.size) / next.size; n > 0 {
				out += " " + strconv.FormatInt(int64(n), 10) + next.name
			}
		}
		return out
	}
	return "0s"
}
