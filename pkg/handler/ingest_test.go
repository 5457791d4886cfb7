package handler_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/grantwatch/grantwatch/pkg/emf"
	"github.com/grantwatch/grantwatch/pkg/handler"
	"github.com/grantwatch/grantwatch/pkg/lifecycle"
)

type fakeApp struct {
	ingestErr, rejectErr error
	ingested             []lifecycle.Event
	jobs                 []lifecycle.JobEvent
	rejected             []string // sources
}

func (f *fakeApp) IngestJob(_ context.Context, ev lifecycle.JobEvent) (lifecycle.Outcome, error) {
	f.jobs = append(f.jobs, ev)
	return lifecycle.Applied, nil
}

func (f *fakeApp) Ingest(_ context.Context, ev lifecycle.Event) (lifecycle.Result, error) {
	f.ingested = append(f.ingested, ev)
	return lifecycle.Result{Outcome: lifecycle.Applied}, f.ingestErr
}

func (f *fakeApp) Reject(_ context.Context, source, _ string, _ []byte, _ error) error {
	f.rejected = append(f.rejected, source)
	return f.rejectErr
}

// hour is the clock of the handlers under test.
var hour = time.Date(2024, 6, 1, 1, 0, 0, 0, time.UTC)

func sample(t *testing.T, name string) json.RawMessage {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "events", "cloudtrail", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestIngestPolicy(t *testing.T) {
	transient := errors.New("ThrottlingException: rate exceeded")
	malformed := json.RawMessage(`{"id":"eb-1","detail-type":"AWS API Call via CloudTrail","detail":"oops"}`)
	tests := []struct {
		name         string
		event        json.RawMessage
		app          fakeApp
		wantErr      bool
		wantIngested int
		wantRejected int
	}{
		{name: "bedrock grant is ingested", event: sample(t, "kms-CreateGrant-bedrock-primary.json"), wantIngested: 1},
		{name: "unrelated service is ignored", event: sample(t, "s3-CreateBucket.json")},
		{name: "bedrock native event is ignored", event: sample(t, "bedrock-ModelCustomizationJobStateChange.json")},
		{name: "dry run is ignored", event: sample(t, "kms-CreateGrant-bedrock-dryrun.json")},
		{name: "malformed is recorded and dropped", event: malformed, wantRejected: 1},
		{name: "not JSON is recorded and dropped", event: json.RawMessage(`<html>`), wantRejected: 1},
		{name: "transient store failure is returned for retry", event: sample(t, "kms-CreateGrant-bedrock-primary.json"),
			app: fakeApp{ingestErr: transient}, wantErr: true, wantIngested: 1},
		{name: "failing to record a rejection is returned for retry", event: malformed,
			app: fakeApp{rejectErr: transient}, wantErr: true, wantRejected: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var logs, metrics bytes.Buffer
			h := handler.NewIngest(&tt.app, slog.New(slog.NewJSONHandler(&logs, nil)), emf.New(&metrics, func() time.Time { return hour }, ""))
			err := h.Handle(context.Background(), tt.event)
			if (err != nil) != tt.wantErr {
				t.Fatalf("Handle() error = %v; want error %v", err, tt.wantErr)
			}
			if len(tt.app.ingested) != tt.wantIngested || len(tt.app.rejected) != tt.wantRejected {
				t.Fatalf("ingested %d, rejected %d; want %d and %d", len(tt.app.ingested), len(tt.app.rejected), tt.wantIngested, tt.wantRejected)
			}
			if tt.wantRejected > 0 && !strings.Contains(metrics.String(), `"EventsRejected":1`) {
				t.Errorf("metrics lack EventsRejected: %s", metrics.String())
			}
		})
	}
}

func TestRejectionNamesTheEnvelope(t *testing.T) {
	app := &fakeApp{}
	h := handler.NewIngest(app, slog.New(slog.NewJSONHandler(&bytes.Buffer{}, nil)), nil)
	_ = h.Handle(context.Background(), json.RawMessage(`{"id":"eb-42","detail-type":"AWS API Call via CloudTrail","detail":[]}`))
	if len(app.rejected) != 1 || app.rejected[0] != "eventbridge:eb-42" {
		t.Fatalf("rejected sources = %v; want [eventbridge:eb-42]", app.rejected)
	}
}
