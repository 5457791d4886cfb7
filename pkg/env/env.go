// Package env reads the configuration template.yaml gives the Lambda functions, reporting every problem at once.
package env

import (
	"errors"
	"fmt"
	"time"

	"github.com/grantwatch/grantwatch/pkg/lifecycle"
)

// Config is what the functions need from their environment.
type Config struct {
	TableName     string           // TABLE_NAME, required
	AlertTopicARN string           // ALERT_TOPIC_ARN, optional until alert delivery is deployed
	Rules         lifecycle.Config // SECONDARY_MAX_AGE overrides the default 24h

	// Issue 3: alert delivery.
	RemindInterval time.Duration // REMIND_INTERVAL, optional: re-notify open alerts this often; empty or 0 = never
	// JOB_GRACE (optional, default 1h) sets Rules.JobGrace: how long a secondary may outlive its Bedrock job.
}

// Load reads the configuration through lookup (os.LookupEnv in production, a map in tests).
func Load(lookup func(string) (string, bool)) (Config, error) {
	cfg := Config{Rules: lifecycle.DefaultConfig()}
	var errs []error
	if v, ok := lookup("TABLE_NAME"); ok && v != "" {
		cfg.TableName = v
	} else {
		errs = append(errs, errors.New("env: TABLE_NAME is required"))
	}
	cfg.AlertTopicARN, _ = lookup("ALERT_TOPIC_ARN")
	if v, ok := lookup("SECONDARY_MAX_AGE"); ok && v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			errs = append(errs, fmt.Errorf("env: SECONDARY_MAX_AGE %q is not a positive duration such as 24h", v))
		} else {
			cfg.Rules.SecondaryMaxAge = d
		}
	}
	if v, ok := lookup("JOB_GRACE"); ok && v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			errs = append(errs, fmt.Errorf("env: JOB_GRACE %q is not a positive duration such as 1h", v))
		} else {
			cfg.Rules.JobGrace = d
		}
	}
	if v, ok := lookup("REMIND_INTERVAL"); ok && v != "" && v != "0" {
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 {
			errs = append(errs, fmt.Errorf("env: REMIND_INTERVAL %q is not a duration such as 24h (0 turns reminders off)", v))
		} else {
			cfg.RemindInterval = d
		}
	}
	return cfg, errors.Join(errs...)
}
