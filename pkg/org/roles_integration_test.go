//go:build integration

package org_test

import (
	"os"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/grantwatch/grantwatch/internal/testenv"
	"github.com/grantwatch/grantwatch/pkg/org"
)

func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }

// TestRolesOnMoto: what moto answers for STS is what the organization tests rely on: the caller's own account is
// moto's default, and a configuration for another account acts in that account as the member role, under the
// session name given.
func TestRolesOnMoto(t *testing.T) {
	testenv.Reset(t)
	ctx := t.Context()
	r := org.New(testenv.AWSConfig(), org.BackfillSession)
	self, partition, err := r.Self(ctx)
	if err != nil || self != "123456789012" || partition != "aws" {
		t.Fatalf("Self = %s %s, %v; want moto's default account in aws", self, partition, err)
	}
	cfg, err := r.Config(ctx, "111111111111", "eu-west-1")
	if err != nil {
		t.Fatal(err)
	}
	who, err := sts.NewFromConfig(cfg).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		t.Fatal(err)
	}
	want := "arn:aws:sts::111111111111:assumed-role/" + org.MemberRoleName + "/" + org.BackfillSession
	if aws.ToString(who.Account) != "111111111111" || aws.ToString(who.Arn) != want || !strings.HasPrefix(cfg.Region, "eu-west-1") {
		t.Errorf("as the member: %s %s in %s; want 111111111111 %s in eu-west-1", aws.ToString(who.Account), aws.ToString(who.Arn), cfg.Region, want)
	}
}
