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
