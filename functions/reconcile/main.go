// Command reconcile is ReconcileFunction: on a schedule, compare every key's recorded grants with KMS ListGrants,
// record untracked Bedrock grants and end grants KMS no longer has. Wiring only.
package main

import (
	"time"

	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/grantwatch/grantwatch/pkg/app"
	"github.com/grantwatch/grantwatch/pkg/handler"
	"github.com/grantwatch/grantwatch/pkg/inventory"
	"github.com/grantwatch/grantwatch/pkg/wire"
)

func main() {
	wire.Start(func(d wire.Deps) any {
		rc := app.NewReconcile(d.Service, inventory.New(kms.NewFromConfig(d.AWS)), d.Store)
		return handler.NewReconcile(rc, d.Log, d.Metrics, time.Now).Handle
	})
}
