package env_test

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/grantwatch/grantwatch/pkg/app"
	"github.com/grantwatch/grantwatch/pkg/env"
)

func lookup(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func TestLoad(t *testing.T) {
	tests := []struct {
		name    string
		vars    map[string]string
		wantAge time.Duration
		wantErr []string
	}{
		{name: "defaults", vars: map[string]string{"TABLE_NAME": "t"}, wantAge: 24 * time.Hour},
		{name: "max age", vars: map[string]string{"TABLE_NAME": "t", "SECONDARY_MAX_AGE": "6h"}, wantAge: 6 * time.Hour},
		{name: "every problem at once", vars: map[string]string{"SECONDARY_MAX_AGE": "soon"},
			wantErr: []string{"TABLE_NAME is required", `SECONDARY_MAX_AGE "soon"`}},
		{name: "negative age", vars: map[string]string{"TABLE_NAME": "t", "SECONDARY_MAX_AGE": "-1h"},
			wantErr: []string{`SECONDARY_MAX_AGE "-1h"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := env.Load(lookup(tt.vars))
			if len(tt.wantErr) == 0 {
				if err != nil {
					t.Fatalf("Load() error = %v; want nil", err)
				}
				if cfg.Rules.SecondaryMaxAge != tt.wantAge || cfg.TableName != "t" {
					t.Fatalf("Load() = %+v; want table t, max age %s", cfg, tt.wantAge)
				}
				return
			}
			if err == nil {
				t.Fatalf("Load() error = nil; want %v", tt.wantErr)
			}
			for _, w := range tt.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Load() error = %q; want it to mention %q", err, w)
				}
			}
		})
	}
}

// TestLoadProblemsAreInputErrors: every problem is an *app.InputError that names its variable, with no package
// prefix, so that callers can tell bad configuration apart with errors.Is.
func TestLoadProblemsAreInputErrors(t *testing.T) {
	_, err := env.Load(lookup(map[string]string{"SECONDARY_MAX_AGE": "soon", "REMIND_INTERVAL": "-1h"}))
	joined, ok := err.(interface{ Unwrap() []error })
	if !ok || !errors.Is(err, app.ErrInvalid) || strings.Contains(err.Error(), "env:") {
		t.Fatalf("Load() error = %v; want joined ErrInvalid problems without a package prefix", err)
	}
	var fields []string
	for _, e := range joined.Unwrap() {
		var ie *app.InputError
		if errors.As(e, &ie) {
			fields = append(fields, ie.Field)
		}
	}
	if want := []string{"TABLE_NAME", "SECONDARY_MAX_AGE", "REMIND_INTERVAL"}; !slices.Equal(fields, want) {
		t.Errorf("problems name %v; want %v", fields, want)
	}
}

// TestLoadOrganization: the account names alerts use and the member set backfill's "all" means, each value
// checked, every problem reported with the others.
func TestLoadOrganization(t *testing.T) {
	cfg, err := env.Load(lookup(map[string]string{"TABLE_NAME": "t", "ACCOUNT_NAMES": "111111111111=prod-ml,222222222222=dev",
		"MEMBER_ACCOUNT_IDS": "111111111111,222222222222", "MEMBER_REGIONS": "us-east-1,eu-west-1"}))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.AccountNames["222222222222"] != "dev" || !slices.Equal(cfg.MemberAccounts, []string{"111111111111", "222222222222"}) ||
		!slices.Equal(cfg.MemberRegions, []string{"us-east-1", "eu-west-1"}) {
		t.Errorf("Load = %+v", cfg)
	}
	// Empty is what CloudFormation passes for parameters left at their default.
	if cfg, err := env.Load(lookup(map[string]string{"TABLE_NAME": "t", "ACCOUNT_NAMES": "", "MEMBER_ACCOUNT_IDS": "", "MEMBER_REGIONS": ""})); err != nil ||
		cfg.MemberAccounts != nil || cfg.MemberRegions != nil || len(cfg.AccountNames) != 0 {
		t.Errorf("empty: %+v, %v", cfg, err)
	}
	_, err = env.Load(lookup(map[string]string{"TABLE_NAME": "t", "ACCOUNT_NAMES": "1111=x", "MEMBER_ACCOUNT_IDS": "111111111111,2",
		"MEMBER_REGIONS": "mars"}))
	for _, w := range []string{`ACCOUNT_NAMES "1111=x"`, `MEMBER_ACCOUNT_IDS "2" is not an AWS account id`, `MEMBER_REGIONS "mars" is not an AWS Region name`} {
		if err == nil || !strings.Contains(err.Error(), w) {
			t.Errorf("Load error = %v; want it to say %s", err, w)
		}
	}
	var ie *app.InputError
	if !errors.As(err, &ie) {
		t.Errorf("Load error %v holds no InputError", err)
	}
}
