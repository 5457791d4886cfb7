// Command reconcile is ReconcileFunction: on a schedule, compare every key's recorded grants with KMS ListGrants,
// record untracked Bedrock grants and end grants KMS no longer has. Wiring only.
package main

import (
	"context"
	"log/slog"
	"os"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/grantwatch/grantwatch/pkg/app"
	"github.com/grantwatch/grantwatch/pkg/handler"
	"github.com/grantwatch/grantwatch/pkg/inventory"
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

func newHandler(ctx context.Context) (*handler.Reconcile, error) {
	d, err := wire.Load(ctx, slog.Default())
	if err != nil {
		return nil, err
	}
	rc := app.NewReconcile(d.Service, inventory.New(kms.NewFromConfig(d.AWS)), d.Store)
	return handler.NewReconcile(rc, d.Log, d.Metrics, time.Now), nil
}
