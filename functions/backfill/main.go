// Command backfill is BackfillFunction: on demand, read CloudTrail's event history (LookupEvents) for a window into
// the grant table, checkpointed so that a window longer than one invocation continues in the next; with accounts,
// in each member account through its read-only role. Wiring only.
package main

import (
	"time"

	"github.com/grantwatch/grantwatch/pkg/app"
	"github.com/grantwatch/grantwatch/pkg/handler"
	"github.com/grantwatch/grantwatch/pkg/lookup"
	"github.com/grantwatch/grantwatch/pkg/members"
	"github.com/grantwatch/grantwatch/pkg/org"
	"github.com/grantwatch/grantwatch/pkg/wire"
)

func main() {
	wire.Start(func(d wire.Deps) any {
		sources := members.Sources{Roles: org.New(d.AWS, org.BackfillSession), Base: d.AWS}
		bf := app.NewBackfill(lookup.New(d.AWS, lookup.Options{}), d.Store, d.Service, d.Log, time.Now).WithSources(sources)
		set := handler.Members{Accounts: d.Config.MemberAccounts, Regions: d.Config.MemberRegions, Region: d.AWS.Region}
		return handler.NewBackfill(bf, d.Log, 30*time.Second).WithMembers(set).Handle
	})
}
