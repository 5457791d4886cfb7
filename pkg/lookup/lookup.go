// Package lookup is the CloudTrail LookupEvents adapter of the Backfill use case: app.EventSource over the SDK's
// cloudtrail client, as pkg/inventory is the KMS ListGrants adapter. Records are decoded and classified by
// trail.Classify, like every other input. Every HTTP attempt, retries included, waits on one shared token-bucket
// limiter first, so any number of parallel slices stays within CloudTrail's 2 requests/s per account and Region;
// the SDK's standard retryer absorbs a ThrottlingException that still happens (another caller in the account, such
// as the console's Event history, shares the same quota).
package lookup

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail/types"
	"github.com/aws/smithy-go/middleware"
	"golang.org/x/time/rate"

	"github.com/grantwatch/grantwatch/pkg/app"
	"github.com/grantwatch/grantwatch/pkg/trail"
)

// LookupEvents limits (grant-lifecycle.md §5).
const (
	Rate     = 2  // requests per second per account and Region
	PageSize = 50 // events per page, the maximum
)

// Options tune a Lookup; zero values take the defaults.
type Options struct {
	Rate        float64 // requests/s; Rate
	Burst       int     // 1: requests are spaced evenly, never two at once
	MaxAttempts int     // per request, first try included; 10
}

// Lookup reads CloudTrail's event history for Backfill. It is safe for concurrent use; all callers share its limiter.
type Lookup struct {
	client   *cloudtrail.Client
	limiter  *rate.Limiter
	attempts atomic.Int64
	requests atomic.Int64
}

var _ app.EventSource = (*Lookup)(nil)

// New returns a Lookup on the config's Region and credentials (BaseEndpoint and AWS_ENDPOINT_URL honoured).
func New(cfg aws.Config, o Options) *Lookup {
	if o.Rate <= 0 {
		o.Rate = Rate
	}
	if o.Burst <= 0 {
		o.Burst = 1
	}
	if o.MaxAttempts <= 0 {
		o.MaxAttempts = 10
	}
	l := &Lookup{limiter: rate.NewLimiter(rate.Limit(o.Rate), o.Burst)}
	l.client = cloudtrail.NewFromConfig(cfg, func(co *cloudtrail.Options) {
		co.Retryer = retry.NewStandard(func(so *retry.StandardOptions) {
			so.MaxAttempts = o.MaxAttempts
			so.MaxBackoff = 20 * time.Second
			// No client-side retry quota: the limiter already paces us, and the quota would turn a neighbour's burst
			// of throttling into errors the user sees.
			so.RateLimiter = ratelimit.None
		})
		co.APIOptions = append(co.APIOptions, func(s *middleware.Stack) error {
			return s.Finalize.Insert(middleware.FinalizeMiddlewareFunc("grantwatchLookupLimiter", l.wait), "Retry", middleware.After)
		})
	})
	return l
}

// wait runs once per HTTP attempt (it sits after the retry middleware).
func (l *Lookup) wait(ctx context.Context, in middleware.FinalizeInput, next middleware.FinalizeHandler) (middleware.FinalizeOutput, middleware.Metadata, error) {
	if err := l.limiter.Wait(ctx); err != nil {
		return middleware.FinalizeOutput{}, middleware.Metadata{}, err
	}
	l.attempts.Add(1)
	return next.HandleFinalize(ctx, in)
}

// Calls returns how many requests were made and how many HTTP attempts they took (attempts - requests = retries).
func (l *Lookup) Calls() (requests, attempts int64) { return l.requests.Load(), l.attempts.Load() }

// LookupPage reads one page of q after token (empty: the first page). q is half-open, [Start, End); LookupEvents'
// bounds are inclusive and CloudTrail event times are whole seconds, so End is sent as End - 1s.
func (l *Lookup) LookupPage(ctx context.Context, q app.LookupQuery, token string) (app.LookupPage, error) {
	in := &cloudtrail.LookupEventsInput{
		LookupAttributes: []types.LookupAttribute{{AttributeKey: types.LookupAttributeKeyEventName, AttributeValue: aws.String(q.EventName)}},
		StartTime:        aws.Time(q.Start),
		EndTime:          aws.Time(q.End.Add(-time.Second)),
		MaxResults:       aws.Int32(PageSize),
	}
	if token != "" {
		in.NextToken = aws.String(token)
	}
	l.requests.Add(1)
	// One page per call: the caller checkpoints the token between pages.
	out, err := cloudtrail.NewLookupEventsPaginator(l.client, in).NextPage(ctx)
	var bad *types.InvalidNextTokenException
	if errors.As(err, &bad) {
		return app.LookupPage{}, fmt.Errorf("lookup: %s: %w: %w", q.EventName, app.ErrTokenExpired, err)
	}
	if err != nil {
		return app.LookupPage{}, fmt.Errorf("lookup: %s: %w", q.EventName, err)
	}
	page := app.LookupPage{Next: aws.ToString(out.NextToken)}
	for _, e := range out.Events {
		id := aws.ToString(e.EventId)
		raw := []byte(aws.ToString(e.CloudTrailEvent))
		rec := app.LookupRecord{Source: "lookup:" + aws.ToString(e.EventName) + "#" + id, EventID: id, Time: aws.ToTime(e.EventTime)}
		if t := rec.Time; !t.IsZero() && (page.Oldest.IsZero() || t.Before(page.Oldest)) {
			page.Oldest = t
		}
		d := trail.Classify(raw)
		if d.EventID != "" {
			rec.EventID = d.EventID
		}
		switch d.Class {
		case trail.KMSEvent:
			rec.Event = d.Event
		case trail.Rejected:
			rec.Err, rec.Raw = d.Err, raw
		default: // backfill reads KMS event names only; anything else is not its to apply
			rec.Ignored = true
		}
		page.Records = append(page.Records, rec)
	}
	return page, nil
}
