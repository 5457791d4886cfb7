package lookup_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/grantwatch/grantwatch/internal/lookuptest"
	"github.com/grantwatch/grantwatch/pkg/app"
	"github.com/grantwatch/grantwatch/pkg/lookup"
)

// TestLookupPageClassifies: each record of a page is decided by trail.Classify, as live events are.
func TestLookupPageClassifies(t *testing.T) {
	srv := lookuptest.New(lookuptest.Options{})
	defer srv.Close()
	at := time.Date(2024, 5, 31, 12, 0, 0, 0, time.UTC)
	const key = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
	good := lookuptest.GrantEvents(1, 0, 1, at, at.Add(time.Minute))
	if len(good) != 1 {
		t.Fatalf("GrantEvents gave %d events", len(good))
	}
	srv.Add(good...)
	srv.Add(
		lookuptest.Event{ID: "iam-1", Name: "CreateGrant", Time: at.Add(2 * time.Second), // no key: not Bedrock, so ignored
			Record: `{"eventSource":"kms.amazonaws.com","eventName":"CreateGrant","eventID":"iam-1","eventTime":"2024-05-31T12:00:02Z","userIdentity":{"type":"IAMUser"}}`},
		lookuptest.Event{ID: "bad-1", Name: "CreateGrant", Time: at.Add(3 * time.Second), Record: `{"eventSource":`},
		lookuptest.Event{ID: "br-1", Name: "CreateGrant", Time: at.Add(4 * time.Second), // Bedrock, but no grant id: rejected
			Record: `{"eventSource":"kms.amazonaws.com","eventName":"CreateGrant","eventID":"br-1","eventTime":"2024-05-31T12:00:04Z",` +
				`"userIdentity":{"invokedBy":"bedrock.amazonaws.com"},"resources":[{"ARN":"` + key + `"}]}`},
	)
	l := lookup.New(aws.Config{Region: "us-east-1", BaseEndpoint: aws.String(srv.URL),
		Credentials: credentials.NewStaticCredentialsProvider("test", "test", "")}, lookup.Options{Rate: 100})
	page, err := l.LookupPage(context.Background(), app.LookupQuery{EventName: "CreateGrant", Start: at.Add(-time.Hour), End: at.Add(time.Hour)}, "")
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, r := range page.Records {
		switch {
		case r.Err != nil:
			if len(r.Raw) == 0 || !strings.HasPrefix(r.Err.Error(), "trail: ") {
				t.Errorf("%s rejected as %v with raw %q; want the trail error and the record", r.EventID, r.Err, r.Raw)
			}
			got[r.EventID] = "rejected"
		case r.Ignored:
			got[r.EventID] = "ignored"
		default:
			if r.Event.ID != r.EventID || r.Event.KeyARN == "" {
				t.Errorf("%s applied as %+v", r.EventID, r.Event)
			}
			got[r.EventID] = "event"
		}
	}
	want := map[string]string{good[0].ID: "event", "iam-1": "ignored", "bad-1": "rejected", "br-1": "rejected"}
	if len(got) != len(want) {
		t.Fatalf("page = %v; want %v", got, want)
	}
	for id, w := range want {
		if got[id] != w {
			t.Errorf("%s: %s; want %s", id, got[id], w)
		}
	}
}
