// Package alert delivers raised alerts to people.
package alert

import (
	"context"
	"log/slog"

	"github.com/grantwatch/grantwatch/pkg/app"
	"github.com/grantwatch/grantwatch/pkg/lifecycle"
)

var _ app.Alerter = Log{}

// Log writes each alert as a structured log line. It is the delivery used until an SNS topic is configured; the
// alert is recorded in the store either way.
type Log struct{ Logger *slog.Logger }

// Send logs the alerts.
func (l Log) Send(ctx context.Context, alerts []lifecycle.Alert) error {
	for _, a := range alerts {
		l.Logger.WarnContext(ctx, "alert", "type", string(a.Type), "severity", string(a.Severity),
			"grantId", a.GrantID, "keyArn", a.KeyARN, "message", a.Message)
	}
	return nil
}

var _ app.Alerter = Discard{}

// Discard drops alerts; replay reports them from the store instead.
type Discard struct{}

// Send does nothing.
func (Discard) Send(context.Context, []lifecycle.Alert) error { return nil }
