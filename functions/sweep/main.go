// Command sweep is SweepFunction: on a schedule, evaluate the time-based rules over the active grants and deliver
// the alerts, reminders and resolutions that are due through SNS. Wiring only.
package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sns"

	"github.com/grantwatch/grantwatch/pkg/alert"
	"github.com/grantwatch/grantwatch/pkg/app"
	"github.com/grantwatch/grantwatch/pkg/env"
	"github.com/grantwatch/grantwatch/pkg/handler"
	"github.com/grantwatch/grantwatch/pkg/store"
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
	cfg, err := env.Load(os.LookupEnv)
	if err != nil {
		return nil, err
	}
	awsCfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return nil, fmt.Errorf("load AWS config: %w", err)
	}
	log := slog.Default()
	var notifier app.Notifier = alert.Log{Logger: log}
	if cfg.AlertTopicARN != "" {
		notifier = alert.NewSNS(sns.NewFromConfig(awsCfg), cfg.AlertTopicARN)
	}
	svc := app.New(store.New(dynamodb.NewFromConfig(awsCfg), cfg.TableName), nil, cfg.Rules, log, time.Now).
		WithNotifier(notifier, cfg.RemindInterval)
	return handler.NewSweep(svc, log, time.Now), nil
}
