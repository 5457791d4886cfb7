package handler

import (
	"context"
	"log/slog"
	"maps"
	"slices"
	"time"

	"github.com/grantwatch/grantwatch/pkg/emf"
	"github.com/grantwatch/grantwatch/pkg/lifecycle"
)

// The handlers' CloudWatch metrics (namespace grantwatch), written as EMF documents to their own writer, never
// through the logger: a raised log level must not silence them, and template.yaml's alarms read them.
//
//	handler    metric                                                   dimension
//	ingest     EventsRejected                                           -
//	ingest     AlertsRaised, AlertsResolved                             Type
//	sweep      KeysSwept, KeysFailed                                    -
//	sweep      NoticesSent, NoticesFailed, NoticesPastLease             -
//	sweep      MaxActiveGrantsPerKey                                    -
//	sweep      ActiveGrants                                             Kind
//	sweep      AlertsRaised, AlertsResolved                             Type
//	reconcile  GrantsAdded, GrantsEnded, KeysNotListed                  -

// scheduled is what the handlers of scheduled functions (sweep, reconcile) hold beside their use case: the
// logger, the metric writer and the clock that says when the run is.
type scheduled struct {
	log     *slog.Logger
	metrics *emf.Writer
	now     func() time.Time
}

// count is one Count metric.
func count(name string, n int) emf.Metric {
	return emf.Metric{Name: name, Unit: emf.Count, Value: float64(n)}
}

// put writes one document; a metric that cannot be written is logged, never fails the invocation.
func put(ctx context.Context, log *slog.Logger, m *emf.Writer, dim, value string, metrics ...emf.Metric) {
	if err := m.Put(dim, value, metrics...); err != nil {
		log.WarnContext(ctx, "metrics not written", "err", err)
	}
}

// putAlerts writes AlertsRaised and AlertsResolved by Type, for the types that occur.
func putAlerts(ctx context.Context, log *slog.Logger, m *emf.Writer, raised, resolved []lifecycle.Alert) {
	for _, set := range []struct {
		name   string
		alerts []lifecycle.Alert
	}{{"AlertsRaised", raised}, {"AlertsResolved", resolved}} {
		counts := map[string]int{}
		for _, a := range set.alerts {
			counts[string(a.Type)]++
		}
		for _, t := range slices.Sorted(maps.Keys(counts)) {
			put(ctx, log, m, "Type", t, count(set.name, counts[t]))
		}
	}
}
