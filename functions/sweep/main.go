// Command sweep is SweepFunction: on a schedule, evaluate the time-based rules over the active grants and deliver
// the alerts, reminders and resolutions that are due through SNS. Wiring only.
package main

import (
	"time"

	"github.com/grantwatch/grantwatch/pkg/handler"
	"github.com/grantwatch/grantwatch/pkg/wire"
)

func main() {
	wire.Start(func(d wire.Deps) any { return handler.NewSweep(d.Service, d.Log, d.Metrics, time.Now).Handle })
}
