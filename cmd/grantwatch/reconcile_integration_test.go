//go:build integration

package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/grantwatch/grantwatch/internal/testenv"
)

// TestReconcileCommand runs `grantwatch reconcile --key` against moto's KMS: an untracked Bedrock grant is added,
// and a key that does not exist cannot be listed (exit 1, reported, not "no grants"; moto answers HTTP 500 there,
// where KMS says NotFoundException, so the reason is not checked).
func TestReconcileCommand(t *testing.T) {
	testenv.Start(t)
	testenv.Reset(t)
	for _, kv := range testenv.Env() {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
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
	tests := []struct {
		name     string
		keys     []string
		wantCode int
		want     []string
	}{
		{name: "untracked grant added", keys: []string{arn}, want: []string{arn + "  listed 1  added " + shortID(aws.ToString(grant.GrantId))}},
		{name: "a key that cannot be listed", keys: []string{arn, missing}, wantCode: exitRejected, want: []string{missing + "  could not list: ", arn + "  listed 1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := []string{"reconcile"}
			for _, k := range tt.keys {
				args = append(args, "--key", k)
			}
			var stdout, stderr bytes.Buffer
			code := run(ctx, args, &stdout, &stderr)
			for _, w := range tt.want {
				if !strings.Contains(stdout.String(), w) {
					t.Errorf("stdout lacks %q:\n%s", w, stdout.String())
				}
			}
			if code != tt.wantCode {
				t.Errorf("exit %d (stderr %q); want %d", code, stderr.String(), tt.wantCode)
			}
		})
	}
}
