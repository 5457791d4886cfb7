// Command ingest is IngestFunction: EventBridge CloudTrail KMS events → grant lifecycle in DynamoDB. Wiring only.
package main

import (
	"context"
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/grantwatch/grantwatch/pkg/handler"
	"github.com/grantwatch/grantwatch/pkg/wire"
)

func main() {
	slog.SetDefault(lambdacontext.NewLogger())
	h, err := newHandler(context.Background())
	if err != nil {
		slog.Error("init failed", "err", err)
		os.Exit(1)
	}
	lambda.Start(h.Handle)
}

func newHandler(ctx context.Context) (*handler.Ingest, error) {
	d, err := wire.Load(ctx, slog.Default())
	if err != nil {
		return nil, err
	}
	return handler.NewIngest(d.Service, d.Log, d.Metrics), nil
}
