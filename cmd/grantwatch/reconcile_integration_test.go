//go:build integration

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/grantwatch/grantwatch/internal/testenv"
	"github.com/grantwatch/grantwatch/pkg/app"
)

// TestReconcileCommand runs `grantwatch reconcile --key` against moto's KMS: an untracked Bedrock grant is added,
// and a key that does not exist cannot be listed (exit 1, reported with what the endpoint answered, not "no grants").
func TestReconcileCommand(t *testing.T) {
	testenv.Start(t)
	testenv.Reset(t)
	testenv.SetEnv(t)
	ctx := context.Background()
	client := kms.NewFromConfig(testenv.AWSConfig())
	key, err := client.CreateKey(ctx, &kms.CreateKeyInput{})
	if err != nil {
		t.Fatal(err)
	}
	arn := aws.ToString(key.KeyMetadata.Arn)
	grant, err := client.CreateGrant(ctx, &kms.CreateGrantInput{KeyId: aws.String(arn), GranteePrincipal: aws.String("bedrock.amazonaws.com"),
		RetiringPrincipal: aws.String("bedrock.amazonaws.com"), Operations: []types.GrantOperation{types.GrantOperationDecrypt}})
	if err != nil {
		t.Fatal(err)
	}
	missing := "arn:aws:kms:us-east-1:123456789012:key/00000000-0000-0000-0000-000000000000"
	id := aws.ToString(grant.GrantId)
	tests := []struct {
		name     string
		keys     []string
		wantCode int
		want     []app.KeyReconcile // as -o json says; Alerts are not compared
		table    []string           // in the table for people
	}{
		{name: "untracked grant added", keys: []string{arn}, want: []app.KeyReconcile{{KeyARN: arn, Listed: 1, Added: []string{id}}},
			table: []string{arn + "  1       " + shortID(id) + "  -      -"}},
		// moto answers HTTP 500 for a key it does not know, where KMS says NotFoundException.
		{name: "a key that cannot be listed", keys: []string{arn, missing}, wantCode: exitRejected,
			want:  []app.KeyReconcile{{KeyARN: arn, Listed: 1, Added: []string{id}}, {KeyARN: missing, CouldNotList: "KMS ListGrants at " + testenv.Endpoint() + " failed: it answered HTTP 500 after 3 attempts"}},
			table: []string{"could not list: KMS ListGrants at", "HTTP 500 after 3 attempts"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := []string{"reconcile"}
			for _, k := range tt.keys {
				args = append(args, "--key", k)
			}
			var stdout, stderr bytes.Buffer
			code := run(ctx, append(args, "-o", "json"), &stdout, &stderr)
			if code != tt.wantCode {
				t.Errorf("exit %d (stderr %q); want %d", code, stderr.String(), tt.wantCode)
			}
			slices.SortFunc(tt.want, func(a, b app.KeyReconcile) int { return strings.Compare(a.KeyARN, b.KeyARN) }) // as reported
			var rep app.ReconcileReport
			if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil || len(rep.Keys) != len(tt.want) {
				t.Fatalf("-o json = %s (%v); want %d keys", stdout.String(), err, len(tt.want))
			}
			for i, k := range rep.Keys {
				w := tt.want[i]
				if k.KeyARN != w.KeyARN || k.Listed != w.Listed || !slices.Equal(k.Added, w.Added) || !strings.HasPrefix(k.CouldNotList, w.CouldNotList) ||
					(w.CouldNotList == "") != (k.CouldNotList == "") {
					t.Errorf("key %d = %+v; want %+v", i, k, w)
				}
			}
			stdout.Reset()
			run(ctx, args, &stdout, &stderr)
			for _, w := range tt.table {
				if !strings.Contains(stdout.String(), w) {
					t.Errorf("the table lacks %q:\n%s", w, stdout.String())
				}
			}
		})
	}
}
