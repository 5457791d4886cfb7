//go:build integration

package inventory_test

import (
	"context"
	"errors"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/aws/smithy-go"

	"github.com/grantwatch/grantwatch/internal/fixture"
	"github.com/grantwatch/grantwatch/internal/testenv"
	"github.com/grantwatch/grantwatch/pkg/app"
	"github.com/grantwatch/grantwatch/pkg/inventory"
	"github.com/grantwatch/grantwatch/pkg/lifecycle"
	"github.com/grantwatch/grantwatch/pkg/store"
)

func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }

const table = "grantwatch-reconcile"

// deniedAPI is KMS on moto, except that ListGrants on one key is denied (moto does not enforce IAM).
type deniedAPI struct {
	inventory.API
	denied string
}

func (d deniedAPI) ListGrants(ctx context.Context, in *kms.ListGrantsInput, optFns ...func(*kms.Options)) (*kms.ListGrantsOutput, error) {
	if aws.ToString(in.KeyId) == d.denied {
		return nil, &smithy.GenericAPIError{Code: "AccessDeniedException", Message: "User is not authorized to perform: kms:ListGrants"}
	}
	return d.API.ListGrants(ctx, in, optFns...)
}

type env struct {
	kms   *kms.Client
	table *store.Table
	svc   *app.Service
}

func setup(t *testing.T) env {
	t.Helper()
	tb := store.New(testenv.Table(t, table), table)
	return env{kms: kms.NewFromConfig(testenv.AWSConfig()), table: tb,
		svc: app.New(tb, nil, lifecycle.DefaultConfig(), fixture.Quiet(), time.Now)}
}

func (e env) key(t *testing.T) string {
	t.Helper()
	out, err := e.kms.CreateKey(context.Background(), &kms.CreateKeyInput{})
	if err != nil {
		t.Fatal(err)
	}
	return aws.ToString(out.KeyMetadata.Arn)
}

func (e env) grant(t *testing.T, key string, ops ...types.GrantOperation) string {
	t.Helper()
	out, err := e.kms.CreateGrant(context.Background(), &kms.CreateGrantInput{KeyId: aws.String(key), GranteePrincipal: aws.String("bedrock.amazonaws.com"),
		RetiringPrincipal: aws.String("bedrock.amazonaws.com"), Operations: ops})
	if err != nil {
		t.Fatal(err)
	}
	return aws.ToString(out.GrantId)
}

// record ingests a CreateGrant event for grantID an hour ago, with no retiring principal so that it carries an
// alert (missing-retiring-principal) whose resolution the test can see.
func (e env) record(t *testing.T, key, grantID string) {
	t.Helper()
	ev := lifecycle.Event{ID: "ev-" + grantID, Name: lifecycle.CreateGrant, Time: time.Now().Add(-time.Hour).Truncate(time.Second), KeyARN: key, GrantID: grantID,
		Caller:  lifecycle.Caller{Type: "AssumedRole", ARN: "arn:aws:sts::123456789012:assumed-role/RoleForModelCopy/s", InvokedBy: "bedrock.amazonaws.com"},
		Grantee: "bedrock.amazonaws.com", Operations: []string{"Decrypt", "CreateGrant"}}
	if _, err := e.svc.Ingest(context.Background(), ev); err != nil {
		t.Fatal(err)
	}
}

func (e env) stored(t *testing.T, key, grantID string) lifecycle.Grant {
	t.Helper()
	k, err := e.table.LoadKey(context.Background(), key, lifecycle.Load{Scope: lifecycle.ScopeAll})
	if err != nil {
		t.Fatal(err)
	}
	return k.Grants[grantID]
}

// TestReconcileAgainstKMS: a grant missing from the events, a grant retired without an event, and a key whose
// ListGrants is denied, in one run over the keys the table knows plus one named key.
func TestReconcileAgainstKMS(t *testing.T) {
	e := setup(t)
	ctx := context.Background()

	untrackedKey := e.key(t) // a grant made on it whose CreateGrant event never arrived
	untracked := e.grant(t, untrackedKey, types.GrantOperationDecrypt, types.GrantOperationCreateGrant)

	retiredKey := e.key(t) // a recorded grant retired in KMS without an event
	retired := e.grant(t, retiredKey, types.GrantOperationDecrypt)
	e.record(t, retiredKey, retired)
	if _, err := e.kms.RetireGrant(ctx, &kms.RetireGrantInput{KeyId: aws.String(retiredKey), GrantId: aws.String(retired)}); err != nil {
		t.Fatal(err)
	}

	deniedKey := e.key(t) // the same situation, but its grants cannot be listed: nothing may change
	deniedGrant := e.grant(t, deniedKey, types.GrantOperationDecrypt)
	e.record(t, deniedKey, deniedGrant)
	if _, err := e.kms.RetireGrant(ctx, &kms.RetireGrantInput{KeyId: aws.String(deniedKey), GrantId: aws.String(deniedGrant)}); err != nil {
		t.Fatal(err)
	}

	keys, err := e.table.ReconcileKeys(ctx, nil)
	if err != nil || !slices.Equal(keys, slices.Sorted(slices.Values([]string{retiredKey, deniedKey}))) {
		t.Fatalf("ReconcileKeys() = %v, %v; want the two keys with recorded grants", keys, err)
	}
	lister := inventory.New(deniedAPI{API: e.kms, denied: deniedKey})
	rep, err := app.NewReconcile(e.svc, lister, e.table).Run(ctx, append(keys, untrackedKey), app.Scope{}, time.Now())
	if err != nil {
		t.Fatalf("Reconcile: %v", err)
	}
	got := map[string]app.KeyReconcile{}
	for _, k := range rep.Keys {
		got[k.KeyARN] = k
	}

	// A grant missing from the events: recorded, with an untracked-grant alert.
	if k := got[untrackedKey]; !slices.Equal(k.Added, []string{untracked}) || len(k.Ended) != 0 || k.CouldNotList != "" {
		t.Errorf("untracked key: %+v; want %s added", k, untracked)
	}
	g := e.stored(t, untrackedKey, untracked)
	if g.State() != lifecycle.Active || g.Kind != lifecycle.Primary || !slices.ContainsFunc(g.Alerts, func(a lifecycle.Alert) bool {
		return a.Type == lifecycle.UntrackedGrant && a.Severity == lifecycle.High
	}) {
		t.Errorf("untracked grant stored as %s %s with alerts %v; want an active primary with a high untracked-grant alert", g.State(), g.Kind, g.Alerts)
	}

	// A grant retired without an event: ended "reconciled", its alerts resolved.
	if k := got[retiredKey]; !slices.Equal(k.Ended, []string{retired}) || len(k.Added) != 0 {
		t.Errorf("retired key: %+v; want %s ended", k, retired)
	}
	g = e.stored(t, retiredKey, retired)
	if g.State() != lifecycle.Unlisted || g.EndedBy != lifecycle.Reconciled || len(g.Alerts) == 0 || g.Alerts[0].ResolvedAt.IsZero() {
		t.Errorf("retired grant stored as %s (endedBy %q, alerts %v); want ended by Reconciled with its alert resolved", g.State(), g.EndedBy, g.Alerts)
	}

	// A key whose ListGrants is denied: reported, never treated as "no grants".
	k := got[deniedKey]
	if k.CouldNotList == "" || len(k.Ended)+len(k.Added) != 0 || rep.CouldNotList() != 1 {
		t.Errorf("denied key: %+v (could not list: %d); want reported as could-not-list with nothing changed", k, rep.CouldNotList())
	}
	if g := e.stored(t, deniedKey, deniedGrant); g.State() != lifecycle.Active {
		t.Errorf("grant on the denied key is %s; want still active", g.State())
	}
	_, err = lister.ListGrants(ctx, deniedKey)
	if !errors.Is(err, app.ErrCouldNotList) {
		t.Errorf("ListGrants(denied) error = %v; want ErrCouldNotList", err)
	}
}
