//go:build integration

package main

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/grantwatch/grantwatch/internal/lambdatest"
	"github.com/grantwatch/grantwatch/internal/lookuptest"
	"github.com/grantwatch/grantwatch/pkg/handler"
	"github.com/grantwatch/grantwatch/pkg/lifecycle"
	"github.com/grantwatch/grantwatch/pkg/store"
)

// function is the real BackfillFunction binary (make build-BackfillFunction, for the host) and the emulator that
// runs it.
var function lambdatest.Function

func TestMain(m *testing.M) { os.Exit(lambdatest.Main(m, "BackfillFunction", &function)) }

// TestBootstrapBackfills invokes the built BackfillFunction as a person does, with a window: CloudTrail's event
// history comes from a local LookupEvents endpoint (moto has none), the grant table is on moto. The window
// completes in one invocation with every record applied once; the same input again finds the run complete and
// reads nothing more; bad input fails the invocation with the field named.
func TestBootstrapBackfills(t *testing.T) {
	const table = "grantwatch-backfill-bootstrap"
	now := time.Now().UTC().Truncate(time.Second)
	since, until := now.Add(-3*time.Hour), now.Add(-time.Hour)
	evs := lookuptest.GrantEvents(24, 80, 3, since, until)
	srv := lookuptest.New(lookuptest.Options{Rate: 20, Burst: 4})
	defer srv.Close()
	srv.Add(evs...)
	// The deadline leaves the handler's 30 s margin and a minute to work at CloudTrail's 2 requests/s.
	rt, api := lambdatest.OnTable(t, function, table, "AWS_ENDPOINT_URL_CLOUDTRAIL="+srv.URL, "AWS_LAMBDA_FUNCTION_TIMEOUT=90")

	input := fmt.Sprintf(`{"since":%q,"until":%q}`, since.Format(time.RFC3339), until.Format(time.RFC3339))
	invoke := func(payload string) (handler.BackfillOutput, string) {
		t.Helper()
		resp, fnErr := rt.Call(t, []byte(payload), 2*time.Minute)
		if fnErr != nil {
			return handler.BackfillOutput{}, fnErr.Message
		}
		var out handler.BackfillOutput
		if err := json.Unmarshal(resp, &out); err != nil {
			t.Fatalf("invoke %s: answer %s: %v", payload, resp, err)
		}
		return out, ""
	}

	out, fnErr := invoke(input)
	if fnErr != "" || !out.Complete || out.Stats.Events != len(evs) || out.Stats.Applied != len(evs) || out.Done != out.Slices {
		t.Fatalf("first invocation = %+v, function error %q; want complete with %d events applied", out, fnErr, len(evs))
	}
	pages := srv.Stats().Pages
	again, fnErr := invoke(input)
	if fnErr != "" || !again.Complete || again.RunID != out.RunID || again.Stats != out.Stats || srv.Stats().Pages != pages {
		t.Errorf("same input again = %+v (%d pages served, %d before), function error %q; want the finished run, nothing read",
			again, srv.Stats().Pages, pages, fnErr)
	}

	key, err := store.New(api, table).LoadKey(t.Context(), "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-000000000000",
		lifecycle.Load{Scope: lifecycle.ScopeAll})
	if err != nil || len(key.Grants) != 8 {
		t.Errorf("key 0 holds %d grants, %v; want the 8 backfilled onto it", len(key.Grants), err)
	}

	if _, fnErr := invoke(`{"since":"yesterday","until":"2024-06-01T00:00:00Z"}`); !strings.Contains(fnErr, `since "yesterday"`) {
		t.Errorf("bad since: function error %q; want one naming since and its value", fnErr)
	}
}
