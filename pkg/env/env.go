// Package env reads the configuration template.yaml gives the Lambda functions, reporting every problem at once,
// each as an *app.InputError that names the variable.
package env

import (
	"errors"
	"strings"
	"time"

	"github.com/grantwatch/grantwatch/pkg/app"
	"github.com/grantwatch/grantwatch/pkg/lifecycle"
	"github.com/grantwatch/grantwatch/pkg/param"
)

// Config is what the functions need from their environment.
type Config struct {
	TableName     string           // TABLE_NAME, required
	AlertTopicARN string           // ALERT_TOPIC_ARN, optional until alert delivery is deployed
	Rules         lifecycle.Config // SECONDARY_MAX_AGE overrides the default 24h

	// Alert delivery.
	RemindInterval time.Duration // REMIND_INTERVAL, optional: re-notify open alerts this often; empty or 0 = never
	// JOB_GRACE (optional, default 1h) sets Rules.JobGrace: how long a secondary may outlive its Bedrock job.

	// A whole organization.
	AccountNames   map[string]string // ACCOUNT_NAMES, optional: id=name pairs that alerts name accounts by
	MemberAccounts []string          // MEMBER_ACCOUNT_IDS, optional: what backfill's "all" accounts are
	MemberRegions  []string          // MEMBER_REGIONS, optional: what backfill's "all" Regions are
}

// Load reads the configuration through lookup (os.LookupEnv in production, a map in tests).
func Load(lookup func(string) (string, bool)) (Config, error) {
	cfg := Config{Rules: lifecycle.DefaultConfig()}
	var errs []error
	if v, ok := lookup("TABLE_NAME"); ok && v != "" {
		cfg.TableName = v
	} else {
		errs = append(errs, &app.InputError{Field: "TABLE_NAME", Problem: "is required"})
	}
	cfg.AlertTopicARN, _ = lookup("ALERT_TOPIC_ARN")
	for _, d := range []struct {
		name, problem string
		least         time.Duration // the smallest value accepted
		into          *time.Duration
	}{
		{"SECONDARY_MAX_AGE", "is not a positive duration such as 24h", 1, &cfg.Rules.SecondaryMaxAge},
		{"JOB_GRACE", "is not a positive duration such as 1h", 1, &cfg.Rules.JobGrace},
		{"REMIND_INTERVAL", "is not a duration such as 24h (0 turns reminders off)", 0, &cfg.RemindInterval},
	} {
		v, ok := lookup(d.name)
		if !ok || v == "" {
			continue
		}
		if parsed, err := time.ParseDuration(v); err != nil || parsed < d.least {
			errs = append(errs, &app.InputError{Field: d.name, Value: v, Problem: d.problem})
		} else {
			*d.into = parsed
		}
	}
	if v, ok := lookup("ACCOUNT_NAMES"); ok && v != "" {
		names, err := param.AccountNames("ACCOUNT_NAMES", v)
		errs = append(errs, flatten(err)...)
		cfg.AccountNames = names
	}
	// CloudFormation joins a CommaDelimitedList parameter with commas; an empty one is "".
	for _, l := range []struct {
		name  string
		parse func(field string, values, configured []string, where string) ([]string, error)
		into  *[]string
	}{
		{"MEMBER_ACCOUNT_IDS", param.Accounts, &cfg.MemberAccounts},
		{"MEMBER_REGIONS", param.Regions, &cfg.MemberRegions},
	} {
		if v, ok := lookup(l.name); ok && v != "" {
			var err error
			*l.into, err = l.parse(l.name, strings.Split(v, ","), nil, "")
			errs = append(errs, flatten(err)...)
		}
	}
	return cfg, errors.Join(errs...)
}

// flatten lists the input errors of err one by one, so that Load's joined error holds each as its own.
func flatten(err error) []error {
	if err == nil {
		return nil
	}
	if many, ok := err.(interface{ Unwrap() []error }); ok {
		return many.Unwrap()
	}
	return []error{err}
}
