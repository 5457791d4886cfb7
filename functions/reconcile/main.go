// Command reconcile is ReconcileFunction: on a schedule, compare every key's recorded grants with KMS ListGrants,
// record untracked Bedrock grants and end grants KMS no longer has; each key's grants are listed in the key's own
// account (another account's through its read-only member role) and Region. Wiring only.
package main

import (
	"time"

	"github.com/grantwatch/grantwatch/pkg/app"
	"github.com/grantwatch/grantwatch/pkg/handler"
	"github.com/grantwatch/grantwatch/pkg/members"
	"github.com/grantwatch/grantwatch/pkg/org"
	"github.com/grantwatch/grantwatch/pkg/wire"
)

func main() {
	wire.Start(func(d wire.Deps) any {
		rc := app.NewReconcile(d.Service, members.NewListers(org.New(d.AWS, org.ReconcileSession)), d.Store)
		set := handler.Members{Accounts: d.Config.MemberAccounts, Regions: d.Config.MemberRegions, Region: d.AWS.Region}
		return handler.NewReconcile(rc, d.Log, d.Metrics, time.Now).WithMembers(set).Handle
	})
}
