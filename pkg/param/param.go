// Package param parses what callers type (CLI flags, HTTP query and path parameters, Lambda event fields) into the
// values the use cases take. Every problem is an *app.InputError that names the field as the caller wrote it, so
// the CLI and the HTTP API report bad input in the same words. pkg/handler and cmd/grantwatch both use it.
package param

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/grantwatch/grantwatch/pkg/app"
	"github.com/grantwatch/grantwatch/pkg/lifecycle"
)

// ExampleKeyARN is the key ARN messages show as the expected shape.
const ExampleKeyARN = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"

// KeyARN accepts a full KMS key ARN, exactly those lifecycle.IsKeyARN accepts, so that every key ingest records
// can be asked about. An alias or a bare key id is refused: grants are recorded by key ARN.
func KeyARN(field, s string) (string, error) {
	if !lifecycle.IsKeyARN(s) {
		return "", &app.InputError{Field: field, Value: s, Problem: "is not a KMS key ARN such as " + ExampleKeyARN}
	}
	return s, nil
}

// GrantIDPattern admits what KMS grant ids look like (64 hex characters in AWS, 8 in moto) with room to spare.
// api/openapi.yaml declares the same pattern.
const GrantIDPattern = `^[A-Za-z0-9_-]{1,128}$`

var grantID = regexp.MustCompile(GrantIDPattern)

// GrantID checks a grant id.
func GrantID(field, s string) (string, error) {
	if !grantID.MatchString(s) {
		return "", &app.InputError{Field: field, Value: s, Problem: "is not a KMS grant id (letters, digits, - and _, at most 128)"}
	}
	return s, nil
}

// Kind accepts one of app.Kinds by name.
func Kind(field, s string) (lifecycle.Kind, error) {
	if k := lifecycle.Kind(s); slices.Contains(app.Kinds, k) {
		return k, nil
	}
	return "", &app.InputError{Field: field, Value: s, Problem: "is not one of " + join(app.Kinds)}
}

// State accepts one of app.States by name.
func State(field, s string) (lifecycle.State, error) {
	if st := lifecycle.State(s); slices.Contains(app.States, st) {
		return st, nil
	}
	return "", &app.InputError{Field: field, Value: s, Problem: "is not one of " + join(app.States) +
		` ("` + string(lifecycle.Unlisted) + `": no longer listed by KMS, and no RetireGrant or RevokeGrant recorded)`}
}

func join[T ~string](values []T) string {
	s := make([]string, len(values))
	for i, v := range values {
		s[i] = string(v)
	}
	return strings.Join(s, ", ")
}

// Time accepts an RFC 3339 time and returns it in UTC. It is the one parser of times people and callers give.
func Time(field, s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, &app.InputError{Field: field, Value: s, Problem: "is not an RFC 3339 time such as 2024-06-01T00:00:00Z"}
	}
	return t.UTC(), nil
}

// maxAge bounds durations (a century), so that days and weeks cannot overflow.
const maxAge = 36500 * 24 * time.Hour

// dayParts matches a leading count of weeks or days: Go's durations stop at hours.
var dayParts = regexp.MustCompile(`^([0-9]+)([wd])`)

// Age accepts a positive duration: Go's (90m, 36h, 1h30m) with days and weeks too (30d, 2w, 1w2d), and with spaces
// between the parts as the CLI prints them ("3d 4h"). It is the one parser of durations people and callers give.
func Age(field, s string) (time.Duration, error) {
	d, err := duration(s)
	if err != nil || d <= 0 {
		return 0, &app.InputError{Field: field, Value: s, Problem: "is not a positive duration such as 90m, 36h, 30d or 2w"}
	}
	return d, nil
}

// AgeOrZero accepts what Age does, and zero: for settings where 0 means off.
func AgeOrZero(field, s string) (time.Duration, error) {
	d, err := duration(s)
	if err != nil || d < 0 {
		return 0, &app.InputError{Field: field, Value: s, Problem: "is not a duration of 0 or more such as 0, 90m, 36h or 1d"}
	}
	return d, nil
}

func duration(s string) (time.Duration, error) {
	bad := fmt.Errorf("not a duration: %q", s)
	rest := strings.ReplaceAll(s, " ", "")
	var d time.Duration
	days := false
	for {
		m := dayParts.FindStringSubmatch(rest)
		if m == nil {
			break
		}
		n, err := strconv.Atoi(m[1])
		unit := 24 * time.Hour
		if m[2] == "w" {
			unit *= 7
		}
		if err != nil || time.Duration(n) > maxAge/unit {
			return 0, bad
		}
		d, days, rest = d+time.Duration(n)*unit, true, rest[len(m[0]):]
	}
	if rest != "" {
		// A bare "0" is Go's only unitless duration; after days it would be a number missing its unit.
		if days && rest == "0" {
			return 0, bad
		}
		g, err := time.ParseDuration(rest)
		if err != nil || g < 0 {
			return 0, bad
		}
		d += g
	} else if !days {
		return 0, bad
	}
	if d > maxAge {
		return 0, bad
	}
	return d, nil
}

// Limit accepts a page size in app.MinLimit..app.MaxLimit; empty gives app.DefaultLimit.
func Limit(field, s string) (int, error) {
	if s == "" {
		return app.DefaultLimit, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < app.MinLimit || n > app.MaxLimit {
		return 0, &app.InputError{Field: field, Value: s, Problem: fmt.Sprintf("is out of range %d..%d", app.MinLimit, app.MaxLimit)}
	}
	return n, nil
}

// Optional parses the value named field in values, when there is one, into *into with parse, and adds its
// problem to p. A field that is absent, or has no name, leaves *into as it is.
func Optional[T any](p *Problems, values map[string]string, field string, parse func(field, s string) (T, error), into *T) {
	v, ok := values[field]
	if !ok || field == "" {
		return
	}
	t, err := parse(field, v)
	if err != nil {
		p.Check(err)
		return
	}
	*into = t
}

// FilterNames are the names a caller gives the fields of a grant filter (query parameters, flags); an empty name is
// a field the caller does not take.
type FilterNames struct{ Key, Kind, State, ActiveAt, OlderThan, Account, Region string }

// Filter parses the filter fields present in values, each under its name in n, into f, adding every problem to p.
func Filter(p *Problems, values map[string]string, n FilterNames, f *app.Filter) {
	Optional(p, values, n.Key, KeyARN, &f.KeyARN)
	Optional(p, values, n.Kind, Kind, &f.Kind)
	Optional(p, values, n.State, State, &f.State)
	Optional(p, values, n.ActiveAt, Time, &f.ActiveAt)
	Optional(p, values, n.OlderThan, Age, &f.OlderThan)
	Optional(p, values, n.Account, Account, &f.Account)
	Optional(p, values, n.Region, Region, &f.Region)
}

// Problems gathers the input errors of one request or command line, so that all of them are reported at once.
type Problems []error

// Check adds err unless it is nil.
func (p *Problems) Check(err error) {
	if err != nil {
		*p = append(*p, err)
	}
}

// Err returns nil, the one problem, or all of them as one error; errors.Is and errors.As see each of them.
func (p Problems) Err() error {
	switch len(p) {
	case 0:
		return nil
	case 1:
		return p[0]
	}
	return p
}

// Error lists the problems on one line, each as its own error says it.
func (p Problems) Error() string {
	msgs := make([]string, len(p))
	for i, err := range p {
		msgs[i] = err.Error()
	}
	return strings.Join(msgs, "; ")
}

func (p Problems) Unwrap() []error { return p }

// Account accepts an AWS account id (twelve digits), as key ARNs name it.
func Account(field, s string) (string, error) {
	if !lifecycle.IsAccountID(s) {
		return "", &app.InputError{Field: field, Value: s, Problem: "is not an AWS account id (12 digits, such as 111122223333)"}
	}
	return s, nil
}

// Region accepts an AWS Region name such as us-east-1.
func Region(field, s string) (string, error) {
	if !lifecycle.IsRegionName(s) {
		return "", &app.InputError{Field: field, Value: s, Problem: "is not an AWS Region name such as us-east-1"}
	}
	return s, nil
}

// All is the value of a list of accounts or Regions that names the whole configured set.
const All = "all"

// Accounts accepts a list of account ids, or "all" alone for the configured set (which must then not be empty;
// where is where people configure it, for the message). Repeats are dropped; the order is kept.
func Accounts(field string, values, configured []string, where string) ([]string, error) {
	return list(field, values, configured, where, "accounts", Account)
}

// Regions is Accounts for Region names.
func Regions(field string, values, configured []string, where string) ([]string, error) {
	return list(field, values, configured, where, "Regions", Region)
}

// Members is a configured member set: what "all" means for accounts and for Regions, and where people configure
// each (for the messages).
type Members struct {
	Accounts, Regions         []string
	AccountsFrom, RegionsFrom string
}

// Scope parses the accounts and Regions given under the fields accountsField and regionsField, "all" meaning the
// set's, adding every problem to p.
func (m Members) Scope(p *Problems, accountsField string, accounts []string, regionsField string, regions []string) app.Scope {
	var s app.Scope
	var err error
	s.Accounts, err = Accounts(accountsField, accounts, m.Accounts, m.AccountsFrom)
	p.Check(err)
	s.Regions, err = Regions(regionsField, regions, m.Regions, m.RegionsFrom)
	p.Check(err)
	return s
}

func list(field string, values, configured []string, where, what string, parse func(field, s string) (string, error)) ([]string, error) {
	if slices.Contains(values, All) {
		switch {
		case len(values) > 1:
			return nil, &app.InputError{Field: field, Value: strings.Join(values, ","), Problem: `gives "` + All + `" with other values: give "` + All + `" alone, or a list`}
		case len(configured) == 0:
			return nil, &app.InputError{Field: field, Value: All, Problem: "names the configured " + what + ", and none are configured (" + where + ")"}
		}
		values = configured
	}
	var out []string
	var probs Problems
	for _, v := range values {
		v = strings.TrimSpace(v)
		if v == "" {
			continue
		}
		got, err := parse(field, v)
		probs.Check(err)
		if err == nil && !slices.Contains(out, got) {
			out = append(out, got)
		}
	}
	return out, probs.Err()
}

// AccountNames accepts the names people know accounts by, for messages: comma-separated id=name pairs such as
// "111122223333=prod-ml,444455556666=data science". A name is at most 50 printable characters, without commas or
// equals signs; an id given twice is refused.
func AccountNames(field, s string) (map[string]string, error) {
	out := map[string]string{}
	var probs Problems
	for _, pair := range strings.Split(s, ",") {
		if strings.TrimSpace(pair) == "" {
			continue
		}
		id, name, ok := strings.Cut(pair, "=")
		id, name = strings.TrimSpace(id), strings.TrimSpace(name)
		switch _, dup := out[id]; {
		case !ok || !lifecycle.IsAccountID(id):
			probs.Check(&app.InputError{Field: field, Value: pair, Problem: "is not an account id=name pair such as 111122223333=prod-ml"})
		case name == "" || len(name) > 50 || strings.ContainsFunc(name, func(r rune) bool { return r < 0x20 || r == 0x7f || r == '=' }):
			probs.Check(&app.InputError{Field: field, Value: pair, Problem: "has no name, or one longer than 50 characters or with control characters or ="})
		case dup:
			probs.Check(&app.InputError{Field: field, Value: pair, Problem: "names account " + id + " a second time"})
		default:
			out[id] = name
		}
	}
	return out, probs.Err()
}
