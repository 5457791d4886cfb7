package param_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/grantwatch/grantwatch/pkg/app"
	"github.com/grantwatch/grantwatch/pkg/lifecycle"
	"github.com/grantwatch/grantwatch/pkg/param"
)

func TestParse(t *testing.T) {
	tests := []struct {
		name string
		fn   func() error
		ok   bool
	}{
		{"key arn", func() error { _, err := param.KeyARN("key", param.ExampleKeyARN); return err }, true},
		{"multi-region key arn", func() error {
			_, err := param.KeyARN("key", "arn:aws:kms:eu-west-1:111122223333:key/mrk-1234abcd12ab34cd56ef1234567890ab")
			return err
		}, true},
		// What ingest records must be queryable: AWS's sample key ids, every partition.
		{"sample key id", func() error {
			_, err := param.KeyARN("key", "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-123456SAMPLE")
			return err
		}, true},
		{"aws-iso-f partition", func() error {
			_, err := param.KeyARN("key", "arn:aws-iso-f:kms:us-isof-south-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab")
			return err
		}, true},
		{"alias", func() error { _, err := param.KeyARN("key", "arn:aws:kms:us-east-1:111122223333:alias/x"); return err }, false},
		{"bare key id", func() error { _, err := param.KeyARN("key", "1234abcd-12ab-34cd-56ef-010000000001"); return err }, false},
		{"kind", func() error { _, err := param.Kind("kind", "secondary"); return err }, true},
		{"bad kind", func() error { _, err := param.Kind("kind", "Secondary"); return err }, false},
		{"state", func() error { _, err := param.State("state", "revoked"); return err }, true},
		{"bad state", func() error { _, err := param.State("state", "closed"); return err }, false},
		{"reconciled state", func() error { _, err := param.State("state", "ended"); return err }, true},
		{"time", func() error { _, err := param.Time("at", "2024-05-30T10:30:00+02:00"); return err }, true},
		{"bad time", func() error { _, err := param.Time("at", "2024-05-30"); return err }, false},
		{"age days", func() error { _, err := param.Age("a", "30d"); return err }, true},
		{"age hours", func() error { _, err := param.Age("a", "36h"); return err }, true},
		{"negative age", func() error { _, err := param.Age("a", "-1h"); return err }, false},
		{"zero days", func() error { _, err := param.Age("a", "0d"); return err }, false},
		{"too many days", func() error { _, err := param.Age("a", "36501d"); return err }, false},
		{"weeks", func() error { _, err := param.Age("a", "2w"); return err }, true},
		{"weeks and days", func() error { _, err := param.Age("a", "1w2d"); return err }, true},
		{"as the CLI prints it", func() error { _, err := param.Age("a", "3d 4h"); return err }, true},
		{"days and a bare 0", func() error { _, err := param.Age("a", "1d0"); return err }, false},
		{"negative days", func() error { _, err := param.Age("a", "-1d"); return err }, false},
		{"empty age", func() error { _, err := param.Age("a", ""); return err }, false},
		{"word", func() error { _, err := param.Age("a", "long"); return err }, false},
		{"zero is no age", func() error { _, err := param.Age("a", "0"); return err }, false},
		{"zero interval", func() error { _, err := param.AgeOrZero("a", "0"); return err }, true},
		{"zero seconds interval", func() error { _, err := param.AgeOrZero("a", "0s"); return err }, true},
		{"week interval", func() error { _, err := param.AgeOrZero("a", "1w"); return err }, true},
		{"negative interval", func() error { _, err := param.AgeOrZero("a", "-1h"); return err }, false},
		{"too many weeks", func() error { _, err := param.AgeOrZero("a", "5215w"); return err }, false},
		{"limit 1", func() error { _, err := param.Limit("limit", "1"); return err }, true},
		{"limit 100", func() error { _, err := param.Limit("limit", "100"); return err }, true},
		{"limit 0", func() error { _, err := param.Limit("limit", "0"); return err }, false},
		{"limit 101", func() error { _, err := param.Limit("limit", "101"); return err }, false},
		{"limit x", func() error { _, err := param.Limit("limit", "x"); return err }, false},
		{"grant id", func() error { _, err := param.GrantID("grant id", "0101ea75"); return err }, true},
		{"grant id with slash", func() error { _, err := param.GrantID("grant id", "a/b"); return err }, false},
	}
	for _, tt := range tests {
		err := tt.fn()
		if tt.ok && err != nil {
			t.Errorf("%s: error %v; want nil", tt.name, err)
		}
		var ie *app.InputError
		if !tt.ok && (!errors.Is(err, app.ErrInvalid) || !errors.As(err, &ie) || ie.Field == "") {
			t.Errorf("%s: error %v; want an *app.InputError naming its field", tt.name, err)
		}
	}
}

func TestValues(t *testing.T) {
	if n, err := param.Limit("limit", ""); n != app.DefaultLimit || err != nil {
		t.Errorf(`Limit("") = %d, %v; want the default`, n, err)
	}
	for in, want := range map[string]time.Duration{"2d": 48 * time.Hour, "2w": 14 * 24 * time.Hour, "1w2d": 9 * 24 * time.Hour,
		"3d 4h": 76 * time.Hour, "1d12h30m": 36*time.Hour + 30*time.Minute, "90m": 90 * time.Minute, "1.5h": 90 * time.Minute} {
		if d, err := param.Age("a", in); d != want || err != nil {
			t.Errorf("Age(%q) = %v, %v; want %v", in, d, err, want)
		}
	}
	at, _ := param.Time("at", "2024-05-30T10:30:00+02:00")
	if at.Location() != time.UTC || !at.Equal(time.Date(2024, 5, 30, 8, 30, 0, 0, time.UTC)) {
		t.Errorf("Time = %v; want 08:30 UTC", at)
	}
	if st, _ := param.State("state", "ended"); st != lifecycle.Unlisted {
		t.Errorf(`State("ended") = %q; want lifecycle.Unlisted`, st)
	}
}

// TestMessages: the words people read, with the field as they wrote it and no package prefix.
func TestMessages(t *testing.T) {
	_, errKey := param.KeyARN("--key", "alias/x")
	_, errKind := param.Kind("kind", "tertiary")
	_, errState := param.State("state", "closed")
	_, errAge := param.Age("--secondary-max-age", "long")
	_, errInterval := param.AgeOrZero("--remind", "-1h")
	for _, tt := range []struct {
		err  error
		want string
	}{
		{errKey, `--key "alias/x" is not a KMS key ARN such as arn:aws:kms:`},
		{errKind, `kind "tertiary" is not one of primary, secondary, knowledge-base, data-automation, other-bedrock`},
		{errState, `state "closed" is not one of active, retired, revoked, ended ("ended": no longer listed by KMS`},
		{errAge, `--secondary-max-age "long" is not a positive duration such as 90m, 36h, 30d or 2w`},
		{errInterval, `--remind "-1h" is not a duration of 0 or more such as 0, 90m, 36h or 1d`},
	} {
		if !strings.HasPrefix(tt.err.Error(), tt.want) {
			t.Errorf("message %q; want it to start with %q", tt.err, tt.want)
		}
	}
}

func TestProblems(t *testing.T) {
	var p param.Problems
	if p.Err() != nil {
		t.Fatal("no problems is not an error")
	}
	_, e1 := param.Time("activeAt", "yesterday")
	_, e2 := param.Limit("limit", "500")
	p.Check(nil)
	p.Check(e1)
	if p.Err() != e1 {
		t.Errorf("one problem: %v; want it as it is", p.Err())
	}
	p.Check(e2)
	err := p.Err()
	want := `activeAt "yesterday" is not an RFC 3339 time such as 2024-06-01T00:00:00Z; limit "500" is out of range 1..100`
	var ie *app.InputError
	if err.Error() != want || !errors.Is(err, app.ErrInvalid) || !errors.As(err, &ie) || ie.Field != "activeAt" {
		t.Errorf("two problems: %q; want %q, ErrInvalid, the first InputError", err, want)
	}
}

func TestOptional(t *testing.T) {
	var probs param.Problems
	kind, state := lifecycle.Primary, lifecycle.Active
	at := time.Time{}
	qs := map[string]string{"kind": "secondary", "activeAt": "yesterday"}
	param.Optional(&probs, qs, "kind", param.Kind, &kind)
	param.Optional(&probs, qs, "state", param.State, &state)
	param.Optional(&probs, qs, "activeAt", param.Time, &at)
	if kind != lifecycle.Secondary || state != lifecycle.Active || !at.IsZero() {
		t.Errorf("kind %s, state %s, activeAt %s; want secondary parsed, state left as it was, activeAt untouched", kind, state, at)
	}
	var ie *app.InputError
	if len(probs) != 1 || !errors.As(probs.Err(), &ie) || ie.Field != "activeAt" {
		t.Errorf("problems = %v; want the one of activeAt", probs)
	}
}

// TestFilter: the fields a caller names are parsed under its names, every problem reported; a field it does not
// name is never read, even when the values hold one under the empty name.
func TestFilter(t *testing.T) {
	var probs param.Problems
	var f app.Filter
	values := map[string]string{"--kind": "primary", "--state": "gone", "": "111111111111"}
	param.Filter(&probs, values, param.FilterNames{Kind: "--kind", State: "--state"}, &f)
	if f.Kind != lifecycle.Primary || f.State != "" || f.Account != "" {
		t.Errorf("filter = %+v; want the kind only", f)
	}
	if err := probs.Err(); err == nil || !strings.HasPrefix(err.Error(), `--state "gone"`) || len(probs) != 1 {
		t.Errorf("problems = %v; want the one of --state", probs)
	}
}

func TestAccountsAndRegions(t *testing.T) {
	configured := []string{"111111111111", "222222222222"}
	for _, tt := range []struct {
		name    string
		values  []string
		want    []string
		problem string // in the error; empty when it parses
	}{
		{name: "list", values: []string{"333333333333", "111111111111", "333333333333"}, want: []string{"333333333333", "111111111111"}},
		{name: "all", values: []string{"all"}, want: configured},
		{name: "all with others", values: []string{"all", "111111111111"}, problem: `gives "all" with other values`},
		{name: "bad ids, each named", values: []string{"1111", "22222222222x"}, problem: `--accounts "1111" is not an AWS account id (12 digits, such as 111122223333); --accounts "22222222222x"`},
	} {
		got, err := param.Accounts("--accounts", tt.values, configured, "MEMBER_ACCOUNT_IDS")
		switch {
		case tt.problem == "" && (err != nil || strings.Join(got, ",") != strings.Join(tt.want, ",")):
			t.Errorf("%s: Accounts = %v, %v; want %v", tt.name, got, err, tt.want)
		case tt.problem != "" && (err == nil || !strings.Contains(err.Error(), tt.problem) || !errors.Is(err, app.ErrInvalid)):
			t.Errorf("%s: error %v; want an input error with %q", tt.name, err, tt.problem)
		}
	}
	if _, err := param.Accounts("accounts", []string{"all"}, nil, "the MemberAccountIds parameter"); err == nil ||
		!strings.Contains(err.Error(), `accounts "all" names the configured accounts, and none are configured (the MemberAccountIds parameter)`) {
		t.Errorf("all with nothing configured: %v", err)
	}
	if got, err := param.Regions("--regions", []string{"eu-west-1", "us-gov-west-1"}, nil, ""); err != nil || len(got) != 2 {
		t.Errorf("Regions = %v, %v", got, err)
	}
	if _, err := param.Regions("--regions", []string{"eu-west"}, nil, ""); err == nil || !strings.Contains(err.Error(), `--regions "eu-west" is not an AWS Region name`) {
		t.Errorf("bad Region: %v", err)
	}
}

func TestAccountNames(t *testing.T) {
	got, err := param.AccountNames("ACCOUNT_NAMES", " 111122223333=prod-ml , 444455556666=data science,")
	if err != nil || len(got) != 2 || got["111122223333"] != "prod-ml" || got["444455556666"] != "data science" {
		t.Errorf("AccountNames = %v, %v", got, err)
	}
	if got, err := param.AccountNames("ACCOUNT_NAMES", ""); err != nil || len(got) != 0 {
		t.Errorf("empty: %v, %v", got, err)
	}
	for s, problem := range map[string]string{
		"111122223333":  "is not an account id=name pair",
		"1111=prod":     "is not an account id=name pair",
		"111122223333=": "has no name",
		"111122223333=" + strings.Repeat("n", 51): "longer than 50",
		"111122223333=a,111122223333=b":           "names account 111122223333 a second time",
	} {
		if _, err := param.AccountNames("ACCOUNT_NAMES", s); err == nil || !strings.Contains(err.Error(), problem) || !errors.Is(err, app.ErrInvalid) {
			t.Errorf("AccountNames(%q) = %v; want an input error with %q", s, err, problem)
		}
	}
}
