// Command query is QueryFunction: the read-only HTTP API over the grant table. Wiring only.
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

func newHandler(ctx context.Context) (*handler.Query, error) {
	cfg, err := env.Load(os.LookupEnv)
	if err != nil {
		return nil, err
	}
	awsCfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return nil, fmt.Errorf("load AWS config: %w", err)
	}
	q := app.NewQuery(store.NewReader(dynamodb.NewFromConfig(awsCfg), cfg.TableName), time.Now)
	return handler.NewQuery(q, slog.Default(), time.Now), nil
}
