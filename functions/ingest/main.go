// Command ingest is IngestFunction: EventBridge CloudTrail KMS events → grant lifecycle in DynamoDB. Wiring only.
package main

import (
	"github.com/grantwatch/grantwatch/pkg/handler"
	"github.com/grantwatch/grantwatch/pkg/wire"
)

func main() {
	wire.Start(func(d wire.Deps) any { return handler.NewIngest(d.Service, d.Log, d.Metrics).Handle })
}
