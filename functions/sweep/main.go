// Command sweep is SweepFunction: on a schedule, evaluate the time-based rules over the active grants and deliver
// the alerts, reminders and resolutions that are due through SNS. Wiring only.
package main

import (
	"context"
	"log/slog"
	"os"
	"time"

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

func newHandler(ctx context.Context) (*handler.Sweep, error) {
	d, err := wire.Load(ctx, slog.Default())
	if err != nil {
		return nil, err
	}
	return handler.NewSweep(d.Service, d.Log, d.Metrics, time.Now), nil
}
