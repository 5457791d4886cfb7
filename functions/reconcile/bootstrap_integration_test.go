//go:build integration

package main

import (
	"os"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/grantwatch/grantwatch/internal/fixture"
	"github.com/grantwatch/grantwatch/internal/lambdatest"
	"github.com/grantwatch/grantwatch/internal/testenv"
	"github.com/grantwatch/grantwatch/pkg/app"
	"github.com/grantwatch/grantwatch/pkg/lifecycle"
	"github.com/grantwatch/grantwatch/pkg/store"
)

// function is the real ReconcileFunction binary (make build-ReconcileFunction, for the host) and the emulator that
// runs it.
var function lambdatest.Function

func TestMain(m *testing.M) { os.Exit(lambdatest.Main(m, "ReconcileFunction", &function)) }

// TestBootstrapReconciles invokes the built ReconcileFunction as its schedule does, against moto's KMS and
// DynamoDB. The table records a grant on a key that KMS has since retired without an event reaching grantwatch,
// and KMS holds a Bedrock grant on the same key whose CreateGrant never arrived: the run finds the key from the
// table, ends the first grant and records the second.
func TestBootstrapReconciles(t *testing.T) {
	ctx := t.Context()
	const table = "grantwatch-reconcile-bootstrap"
	rt, ddb := lambdatest.OnTable(t, function, table)
	kmsc := kms.NewFromConfig(testenv.AWSConfig())
	key, err := kmsc.CreateKey(ctx, &kms.CreateKeyInput{})
	if err != nil {
		t.Fatal(err)
	}
	arn := aws.ToString(key.KeyMetadata.Arn)
	grant := func() string {
		out, err := kmsc.CreateGrant(ctx, &kms.CreateGrantInput{KeyId: aws.String(arn), GranteePrincipal: aws.String("bedrock.amazonaws.com"),
			RetiringPrincipal: aws.String("bedrock.amazonaws.com"), Operations: []types.GrantOperation{types.GrantOperationDecrypt}})
		if err != nil {
			t.Fatal(err)
		}
		return aws.ToString(out.GrantId)
	}
	retired, untracked := grant(), grant()
	svc := app.New(store.New(ddb, table), nil, lifecycle.DefaultConfig(), fixture.Quiet(), time.Now)
	if _, err := svc.Ingest(ctx, lifecycle.Event{ID: "ev-" + retired, Name: lifecycle.CreateGrant, Time: time.Now().Add(-time.Hour).Truncate(time.Second),
		KeyARN: arn, GrantID: retired, Caller: lifecycle.Caller{Type: "AWSService", InvokedBy: "bedrock.amazonaws.com"},
		Grantee: "bedrock.amazonaws.com", RetiringPrincipal: "bedrock.amazonaws.com", Operations: []string{"Decrypt"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := kmsc.RetireGrant(ctx, &kms.RetireGrantInput{KeyId: aws.String(arn), GrantId: aws.String(retired)}); err != nil {
		t.Fatal(err)
	}

	scheduled := []byte(`{"version":"0","id":"r-1","detail-type":"Scheduled Event","source":"aws.events","account":"111122223333",` +
		`"time":"2026-11-23T03:00:00Z","region":"us-east-1","resources":["arn:aws:events:us-east-1:111122223333:rule/reconcile"],"detail":{}}`)
	rt.CallOK(t, scheduled, time.Minute)

	k, err := store.New(ddb, table).LoadKey(ctx, arn, lifecycle.Load{Scope: lifecycle.ScopeAll})
	if err != nil {
		t.Fatal(err)
	}
	if g := k.Grants[retired]; g.State() != lifecycle.Unlisted || g.EndedBy != lifecycle.Reconciled {
		t.Errorf("grant retired in KMS is %s (ended by %q); want %s by %s", g.State(), g.EndedBy, lifecycle.Unlisted, lifecycle.Reconciled)
	}
	if g := k.Grants[untracked]; g.State() != lifecycle.Active || g.Kind != lifecycle.OtherBedrock {
		t.Errorf("grant only KMS knew is %q %s; want recorded, active, other-bedrock", g.Kind, g.State())
	}
}
