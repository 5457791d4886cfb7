// Command query is QueryFunction: the read-only HTTP API over the grant table. Wiring only.
package main

import (
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/grantwatch/grantwatch/pkg/app"
	"github.com/grantwatch/grantwatch/pkg/handler"
	"github.com/grantwatch/grantwatch/pkg/store"
	"github.com/grantwatch/grantwatch/pkg/wire"
)

// The query side reads only: Query and GetItem through a store.Reader, never through the service of wire.Deps.
func main() {
	wire.Start(func(d wire.Deps) any {
		q := app.NewQuery(store.NewReader(dynamodb.NewFromConfig(d.AWS), d.Config.TableName), time.Now)
		return handler.NewQuery(q, d.Log, time.Now).Handle
	})
}
