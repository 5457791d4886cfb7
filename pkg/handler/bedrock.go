package handler

import (
	"context"
	"errors"
	"fmt"

	"github.com/grantwatch/grantwatch/pkg/lifecycle"
	"github.com/grantwatch/grantwatch/pkg/trail"
)

// jobIngester is the part of app.Service that takes Bedrock job events (issue 3).
type jobIngester interface {
	IngestJob(ctx context.Context, ev lifecycle.JobEvent) (lifecycle.Outcome, error)
}

// bedrock handles the events of IngestFunction's Bedrock rule (source aws.bedrock): control-plane calls and job
// state changes. handled is false for any other source, which Handle processes as KMS events. The drop-versus-
// retry policy is the KMS one: ignored and unusable input is dropped (unusable is recorded), store failures retried.
func (h *Ingest) bedrock(ctx context.Context, source string, raw []byte) (handled bool, err error) {
	ev, ok, err := trail.BedrockFromEventBridge(raw)
	if !ok {
		return false, nil
	}
	if errors.Is(err, trail.ErrIgnored) {
		h.log.DebugContext(ctx, "event ignored", "source", source, "err", err)
		return true, nil
	}
	if err != nil {
		return true, h.reject(ctx, source, "", raw, err)
	}
	ji, ok := h.app.(jobIngester)
	if !ok {
		h.log.DebugContext(ctx, "bedrock event ignored: no job registry", "eventId", ev.ID)
		return true, nil
	}
	out, err := ji.IngestJob(ctx, ev)
	if err != nil {
		h.log.ErrorContext(ctx, "bedrock event failed, will be retried", "eventId", ev.ID, "eventName", ev.Name, "err", err)
		return true, fmt.Errorf("handler: ingest %s: %w", ev.ID, err)
	}
	h.log.InfoContext(ctx, "bedrock event processed", "eventId", ev.ID, "eventName", ev.Name, "jobArn", ev.JobARN,
		"keyArn", ev.KeyARN, "outcome", string(out))
	return true, nil
}
