package handler

import (
	"context"
	"fmt"

	"github.com/grantwatch/grantwatch/pkg/lifecycle"
)

// job applies a Bedrock job event (a control-plane call or job state change from IngestFunction's Bedrock rule).
// The drop-versus-retry policy is the KMS one: store failures are retried.
func (h *Ingest) job(ctx context.Context, ev lifecycle.JobEvent) error {
	out, err := h.app.IngestJob(ctx, ev)
	if err != nil {
		h.log.ErrorContext(ctx, "bedrock event failed, will be retried", "eventId", ev.ID, "eventName", ev.Name, "err", err)
		return fmt.Errorf("handler: ingest %s: %w", ev.ID, err)
	}
	h.log.InfoContext(ctx, "bedrock event processed", "eventId", ev.ID, "eventName", ev.Name, "jobArn", ev.JobARN,
		"keyArn", ev.KeyARN, "outcome", string(out))
	return nil
}
