//go:build integration

package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/grantwatch/grantwatch/internal/fixture"
	"github.com/grantwatch/grantwatch/internal/lookuptest"
	"github.com/grantwatch/grantwatch/internal/testenv"
	"github.com/grantwatch/grantwatch/pkg/app"
	"github.com/grantwatch/grantwatch/pkg/lifecycle"
	"github.com/grantwatch/grantwatch/pkg/org"
	"github.com/grantwatch/grantwatch/pkg/queryapi"
	"github.com/grantwatch/grantwatch/pkg/store"
	"github.com/grantwatch/grantwatch/pkg/trail"
)

// The member accounts of the organization tests: two with grantwatch's member role, one without.
const (
	memberA  = "111111111111"
	memberB  = "222222222222"
	noMember = "333333333333"
	orgTable = "grantwatch-org"
)

// member is one member account on moto: its KMS key, and the history its LookupEvents endpoint serves.
type member struct {
	account string
	key     string
	kms     *kms.Client
	trail   *lookuptest.Server
	history []lookuptest.Event
}

// newMember creates the account's key on moto and, when withRole, the member role deploy/member.yaml creates
// (name and path from pkg/org, which the template tests hold the template to).
func newMember(t *testing.T, ctx context.Context, account string, withRole bool) *member {
	t.Helper()
	cfg := testenv.InAccount(testenv.AWSConfig(), account)
	m := &member{account: account, kms: kms.NewFromConfig(cfg), trail: lookuptest.New(lookuptest.Options{Rate: 50, Burst: 4, MaxLatency: 2 * time.Millisecond})}
	t.Cleanup(m.trail.Close)
	key, err := m.kms.CreateKey(ctx, &kms.CreateKeyInput{})
	if err != nil {
		t.Fatalf("CreateKey in %s: %v", account, err)
	}
	m.key = aws.ToString(key.KeyMetadata.Arn)
	if !strings.Contains(m.key, ":"+account+":") {
		t.Fatalf("moto made key %s for account %s", m.key, account)
	}
	if withRole {
		if _, err := iam.NewFromConfig(cfg).CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String(org.MemberRoleName), Path: aws.String(org.MemberRolePath),
			AssumeRolePolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::` + testenv.Account + `:root"},"Action":"sts:AssumeRole"}]}`)}); err != nil {
			t.Fatalf("CreateRole in %s: %v", account, err)
		}
	}
	return m
}

// grant makes a Bedrock grant on the member's key in KMS (moto) and returns its id.
func (m *member) grant(t *testing.T, ctx context.Context) string {
	t.Helper()
	g, err := m.kms.CreateGrant(ctx, &kms.CreateGrantInput{KeyId: aws.String(m.key), GranteePrincipal: aws.String("bedrock.amazonaws.com"),
		RetiringPrincipal: aws.String("bedrock.amazonaws.com"), Operations: []kmstypes.GrantOperation{kmstypes.GrantOperationDecrypt}})
	if err != nil {
		t.Fatalf("CreateGrant in %s: %v", m.account, err)
	}
	return aws.ToString(g.GrantId)
}

// record adds a Bedrock grant call on the member's key to its event history.
func (m *member) record(name, grant string, at time.Time) {
	ev := lookuptest.GrantRecord(name, fmt.Sprintf("%s-%s-%d", m.account, name, len(m.history)), m.key, grant, at)
	m.history = append(m.history, ev)
	m.trail.Add(ev)
}

// trailRouter is the one CloudTrail endpoint the CLI talks to: it serves each request from the event history of
// the account its credentials act in (sts.Account of the signing key), as CloudTrail does. A request signed with
// the central account's own credentials finds no history: the member accounts must be read as themselves.
func trailRouter(t *testing.T, sts *testenv.STS, members ...*member) string {
	t.Helper()
	by := map[string]*httputil.ReverseProxy{}
	for _, m := range members {
		u, _ := url.Parse(m.trail.URL)
		by[m.account] = httputil.NewSingleHostReverseProxy(u)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key, _ := lookuptest.Signer(r)
		p, ok := by[sts.Account(key)]
		if !ok {
			w.Header().Set("Content-Type", "application/x-amz-json-1.1")
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprintf(w, `{"__type":"AccessDeniedException","message":"no event history for account %s"}`, sts.Account(key))
			return
		}
		p.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// TestOrganization: one central table, two member accounts with grantwatch's member role and one without, on moto
// (STS assumes roles into other accounts; testenv.STS refuses a role that is not there, as STS does). Backfill and
// reconcile run in each member through its role; the member without one is reported ("could not check"), and
// the others complete; grants --account and keys tell the accounts apart.
func TestOrganization(t *testing.T) {
	testenv.Start(t)
	testenv.Reset(t)
	ctx := t.Context()
	sts := testenv.NewSTS(t)
	a, b, c := newMember(t, ctx, memberA, true), newMember(t, ctx, memberB, true), newMember(t, ctx, noMember, false)

	// In KMS: A's tracked grant and one grantwatch never heard of; B's tracked grant. In the event history: A also
	// created and retired a grant; B's history names a grant KMS no longer has.
	now := time.Now().UTC().Truncate(time.Second)
	since, until, at := now.Add(-3*time.Hour), now.Add(-time.Hour), now.Add(-2*time.Hour)
	aTracked, aUntracked, bTracked := a.grant(t, ctx), a.grant(t, ctx), b.grant(t, ctx)
	aEnded, bGone, cGrant := strings.Repeat("a", 64), strings.Repeat("b", 64), strings.Repeat("c", 64)
	a.record("CreateGrant", aTracked, at)
	a.record("CreateGrant", aEnded, at.Add(time.Minute))
	a.record("RetireGrant", aEnded, at.Add(2*time.Minute))
	b.record("CreateGrant", bTracked, at)
	b.record("CreateGrant", bGone, at.Add(time.Minute))
	c.record("CreateGrant", cGrant, at)

	env := append(withEndpoint(testenv.Env(), testenv.Endpoint()), "GRANTWATCH_TABLE="+orgTable,
		"AWS_ENDPOINT_URL_STS="+sts.URL, "AWS_ENDPOINT_URL_CLOUDTRAIL="+trailRouter(t, sts, a, b, c))
	if r := runCLI(t, env, "table", "create"); r.code != 0 {
		t.Fatalf("table create: %d %s", r.code, r.stderr)
	}
	// C's events reached the table through its forwarding rule (that needs no role): its key is recorded.
	tbl, err := store.Open(ctx, dynamodb.NewFromConfig(testenv.AWSConfig()), orgTable)
	if err != nil {
		t.Fatal(err)
	}
	d := trail.Classify([]byte(c.history[0].Record))
	if _, err := app.New(tbl, nil, lifecycle.DefaultConfig(), fixture.Quiet(), time.Now).Ingest(ctx, d.Event); err != nil || d.Class != trail.KMSEvent {
		t.Fatalf("ingest C's CreateGrant: %v (%v)", err, d.Err)
	}

	accounts := strings.Join([]string{memberA, memberB, noMember}, ",")
	t.Run("backfill", func(t *testing.T) {
		r := runCLI(t, env, "backfill", "--since", since.Format(time.RFC3339), "--until", until.Format(time.RFC3339), "--accounts", accounts, "-o", "json")
		var v backfillView
		if err := json.Unmarshal([]byte(r.stdout), &v); err != nil {
			t.Fatalf("backfill -o json: %v\nstdout %s\nstderr %s", err, r.stdout, r.stderr)
		}
		if r.code != exitFailure || !strings.Contains(r.stderr, "1 of 3 account-Regions could not be read ("+noMember+"/us-east-1)") {
			t.Errorf("backfill: exit %d, stderr %q; want exit %d naming %s", r.code, r.stderr, exitFailure, noMember)
		}
		got := map[string]targetView{}
		for _, tv := range v.Targets {
			got[tv.Account] = tv
		}
		for _, m := range []*member{a, b} {
			tv := got[m.account]
			if !tv.Complete || tv.Error != "" || tv.Region != "us-east-1" || tv.Stats.Events != len(m.history) || tv.Stats.Applied != len(m.history) {
				t.Errorf("%s: %+v; want complete, its %d events applied", m.account, tv, len(m.history))
			}
		}
		if tv := got[noMember]; tv.Complete || !tv.CouldNotAssume || !strings.Contains(tv.Error, org.MemberRoleARN("aws", noMember)) ||
			!strings.Contains(tv.Error, "AccessDenied") || tv.Stats.Events != 0 {
			t.Errorf("%s: %+v; want could not assume its role (AccessDenied), nothing read", noMember, tv)
		}
		if n := c.trail.Stats().Requests; n != 0 {
			t.Errorf("%s's event history was asked %d times without its role", noMember, n)
		}
		for _, m := range []*member{a, b} {
			for key := range m.trail.Stats().Signers {
				if id, _, _ := strings.Cut(key, " "); sts.Account(id) != m.account {
					t.Errorf("%s's event history was read with a key of %s", m.account, sts.Account(id))
				}
			}
		}
		wantRefused := []string{org.MemberRoleARN("aws", noMember)}
		if got := slices.Compact(sts.Refused()); !slices.Equal(got, wantRefused) {
			t.Errorf("AssumeRole refused %v; want %v", got, wantRefused)
		}
		// Run again: the two that completed are not read again; the one without a role is tried again.
		before := a.trail.Stats().Requests + b.trail.Stats().Requests
		if r := runCLI(t, env, "backfill", "--since", since.Format(time.RFC3339), "--until", until.Format(time.RFC3339), "--accounts", accounts); r.code != exitFailure {
			t.Errorf("second backfill: exit %d; want %d (%s)", r.code, exitFailure, r.stderr)
		}
		if after := a.trail.Stats().Requests + b.trail.Stats().Requests; after != before {
			t.Errorf("the second run read the completed account-Regions again: %d requests, %d before", after, before)
		}
	})

	t.Run("grants by account", func(t *testing.T) {
		for _, tt := range []struct {
			account string
			want    []string
		}{{memberA, []string{aTracked, aEnded}}, {memberB, []string{bTracked, bGone}}, {noMember, []string{cGrant}}} {
			r := runCLI(t, env, "grants", "--account", tt.account, "-o", "json")
			var v struct {
				Grants []struct {
					GrantID string `json:"grantId"`
					KeyARN  string `json:"keyArn"`
				} `json:"grants"`
			}
			if err := json.Unmarshal([]byte(r.stdout), &v); err != nil || r.code != 0 {
				t.Fatalf("grants --account %s: exit %d, %v\n%s", tt.account, r.code, err, r.stderr)
			}
			var ids []string
			for _, g := range v.Grants {
				ids = append(ids, g.GrantID)
				if !strings.Contains(g.KeyARN, ":"+tt.account+":") {
					t.Errorf("grants --account %s lists %s on %s", tt.account, g.GrantID, g.KeyARN)
				}
			}
			slices.Sort(ids)
			slices.Sort(tt.want)
			if !slices.Equal(ids, tt.want) {
				t.Errorf("grants --account %s = %v; want %v", tt.account, ids, tt.want)
			}
		}
	})

	t.Run("keys by account", func(t *testing.T) {
		r := runCLI(t, append(env, "GRANTWATCH_ACCOUNT_NAMES="+memberA+"=team-a,"+memberB+"=team-b"), "keys", "-o", "json")
		var list queryapi.KeyList
		if err := json.Unmarshal([]byte(r.stdout), &list); err != nil || r.code != 0 {
			t.Fatalf("keys -o json: exit %d, %v\n%s", r.code, err, r.stderr)
		}
		want := []queryapi.AccountSummary{
			{Account: memberA, Name: "team-a", Regions: []string{"us-east-1"}, Keys: 1, Active: 1, Total: 2},
			{Account: memberB, Name: "team-b", Regions: []string{"us-east-1"}, Keys: 1, Active: 2, Total: 2},
			{Account: noMember, Regions: []string{"us-east-1"}, Keys: 1, Active: 1, Total: 1},
		}
		if got := fmt.Sprint(list.Accounts); got != fmt.Sprint(want) {
			t.Errorf("keys accounts = %s; want %s", got, fmt.Sprint(want))
		}
		r = runCLI(t, env, "keys", "-o", "wide")
		first, second := strings.Index(r.stdout, "Account "+memberA), strings.Index(r.stdout, "Account "+memberB)
		if r.code != 0 || first < 0 || second < first || strings.Index(r.stdout[first:second], b.key) >= 0 || !strings.Contains(r.stdout[first:second], a.key) {
			t.Errorf("keys, for people: each account's key under its own heading, in account order:\n%s", r.stdout)
		}
	})

	t.Run("reconcile", func(t *testing.T) {
		r := runCLI(t, env, "reconcile", "--accounts", accounts, "-o", "json")
		var rep app.ReconcileReport
		if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
			t.Fatalf("reconcile -o json: %v\nstdout %s\nstderr %s", err, r.stdout, r.stderr)
		}
		if r.code != exitRejected || !strings.Contains(r.stderr, "accounts whose member role could not be assumed: "+noMember) {
			t.Errorf("reconcile: exit %d, stderr %q; want %d naming %s", r.code, r.stderr, exitRejected, noMember)
		}
		byKey := map[string]app.KeyReconcile{}
		for _, k := range rep.Keys {
			byKey[k.KeyARN] = k
		}
		if k := byKey[a.key]; k.CouldNotList != "" || k.Listed != 2 || !slices.Equal(k.Added, []string{aUntracked}) || len(k.Ended) != 0 {
			t.Errorf("%s's key: %+v; want 2 listed, %s added", memberA, k, aUntracked)
		}
		if k := byKey[b.key]; k.CouldNotList != "" || k.Listed != 1 || len(k.Added) != 0 || !slices.Equal(k.Ended, []string{bGone}) {
			t.Errorf("%s's key: %+v; want 1 listed, %s ended", memberB, k, bGone)
		}
		if k := byKey[c.key]; !strings.Contains(k.CouldNotList, org.MemberRoleARN("aws", noMember)) {
			t.Errorf("%s's key: %+v; want could not list: its role could not be assumed", noMember, k)
		}
		var notAssumed []string
		for _, acc := range rep.Accounts {
			if acc.CouldNotAssume != "" {
				notAssumed = append(notAssumed, acc.Account)
			}
		}
		if len(rep.Accounts) != 3 || !slices.Equal(notAssumed, []string{noMember}) {
			t.Errorf("accounts = %+v; want 3, %s not assumed", rep.Accounts, noMember)
		}
	})
}
