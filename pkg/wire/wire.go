// Package wire is the composition root the Lambda functions share: configuration from the environment, AWS
// clients, the store and the use-case service with its alert delivery, and the start of the Lambda runtime. Each
// functions/<name>/main.go adds only what is its own: its handler and any extra client.
package wire

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sns"

	"github.com/grantwatch/grantwatch/pkg/alert"
	"github.com/grantwatch/grantwatch/pkg/app"
	"github.com/grantwatch/grantwatch/pkg/emf"
	"github.com/grantwatch/grantwatch/pkg/env"
	"github.com/grantwatch/grantwatch/pkg/store"
)

// Deps is what every function is built from.
type Deps struct {
	Config  env.Config
	AWS     aws.Config
	Log     *slog.Logger
	Store   *store.Table
	Service *app.Service // delivers alerts through SNS when ALERT_TOPIC_ARN is set, else as log lines
	Metrics *emf.Writer  // EMF on stdout, stamped with time.Now, kept by Lambda's log-level filter
}

// Load reads the environment (every problem at once) and the AWS configuration (AWS_ENDPOINT_URL is honoured).
func Load(ctx context.Context, log *slog.Logger) (Deps, error) {
	cfg, err := env.Load(os.LookupEnv)
	if err != nil {
		return Deps{}, err
	}
	awsCfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return Deps{}, fmt.Errorf("load AWS config: %w", err)
	}
	var notifier app.Notifier = alert.Log{Logger: log}
	if cfg.AlertTopicARN != "" {
		notifier = alert.NewSNS(sns.NewFromConfig(awsCfg), cfg.AlertTopicARN).WithAccountNames(cfg.AccountNames)
	}
	st := store.Checked(dynamodb.NewFromConfig(awsCfg), cfg.TableName)
	svc := app.New(st, nil, cfg.Rules, log, time.Now).WithNotifier(notifier, cfg.RemindInterval).WithJobs(st)
	metrics := emf.New(os.Stdout, time.Now, os.Getenv("AWS_LAMBDA_LOG_LEVEL")) // the level lambdacontext.NewLogger reads
	return Deps{Config: cfg, AWS: awsCfg, Log: log, Store: st, Service: svc, Metrics: metrics}, nil
}

// Start is the whole main of a function: Lambda's logger (lambdacontext.NewLogger, which follows the function's
// logging configuration), the dependencies (Load), the handler handler builds from them, and lambda.Start. A
// failure before the first invocation is logged and ends the process, which Lambda reports as an init error.
func Start(handler func(d Deps) any) {
	slog.SetDefault(lambdacontext.NewLogger())
	d, err := Load(context.Background(), slog.Default())
	if err != nil {
		slog.Error("init failed", "err", err)
		os.Exit(1)
	}
	lambda.Start(handler(d))
}
