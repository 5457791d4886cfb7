package env_test

import (
	"testing"
	"time"

	"github.com/grantwatch/grantwatch/pkg/env"
)

// TestAlertDeliveryEnv covers the alert delivery variables: REMIND_INTERVAL and JOB_GRACE.
func TestAlertDeliveryEnv(t *testing.T) {
	tests := []struct {
		name       string
		vars       map[string]string
		wantRemind time.Duration
		wantGrace  time.Duration
		wantErr    bool
	}{
		{name: "defaults", vars: map[string]string{}, wantGrace: time.Hour},
		{name: "0 turns reminders off", vars: map[string]string{"REMIND_INTERVAL": "0"}, wantGrace: time.Hour},
		{name: "set", vars: map[string]string{"REMIND_INTERVAL": "24h", "JOB_GRACE": "2h"}, wantRemind: 24 * time.Hour, wantGrace: 2 * time.Hour},
		{name: "bad remind", vars: map[string]string{"REMIND_INTERVAL": "daily"}, wantErr: true},
		{name: "zero grace", vars: map[string]string{"JOB_GRACE": "0s"}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.vars["TABLE_NAME"] = "t"
			cfg, err := env.Load(func(k string) (string, bool) { v, ok := tt.vars[k]; return v, ok })
			if (err != nil) != tt.wantErr {
				t.Fatalf("Load() error = %v; want error %v", err, tt.wantErr)
			}
			if err == nil && (cfg.RemindInterval != tt.wantRemind || cfg.Rules.JobGrace != tt.wantGrace) {
				t.Errorf("remind %s, job grace %s; want %s, %s", cfg.RemindInterval, cfg.Rules.JobGrace, tt.wantRemind, tt.wantGrace)
			}
		})
	}
}
