// Command backfill is BackfillFunction: on demand, read CloudTrail's event history (LookupEvents) for a window into
// the grant table, checkpointed so that a window longer than one invocation continues in the next. Wiring only.
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
	"github.com/grantwatch/grantwatch/pkg/trail"
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
	st := store.New(dynamodb.NewFromConfig(awsCfg), cfg.TableName)
	svc := app.New(st, nil, cfg.Rules, log, time.Now).WithNotifier(notifier, cfg.RemindInterval)
	bf := app.NewBackfill(trail.NewLookup(awsCfg, trail.LookupOptions{}), st, svc, log, time.Now)
	return handler.NewBackfill(bf, log, 30*time.Second), nil
}
