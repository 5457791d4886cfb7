// Command backfill is BackfillFunction: on demand, read CloudTrail's event history (LookupEvents) for a window into
// the grant table, checkpointed so that a window longer than one invocation continues in the next. Wiring only.
package main

import (
	"context"
	"log/slog"
	"os"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/grantwatch/grantwatch/pkg/app"
	"github.com/grantwatch/grantwatch/pkg/handler"
	"github.com/grantwatch/grantwatch/pkg/lookup"
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

func newHandler(ctx context.Context) (*handler.Backfill, error) {
	d, err := wire.Load(ctx, slog.Default())
	if err != nil {
		return nil, err
	}
	bf := app.NewBackfill(lookup.New(d.AWS, lookup.Options{}), d.Store, d.Service, d.Log, time.Now)
	return handler.NewBackfill(bf, d.Log, 30*time.Second), nil
}
