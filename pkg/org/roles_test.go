package org_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/aws-sdk-go-v2/service/sts/types"
	"github.com/aws/smithy-go"

	"github.com/grantwatch/grantwatch/pkg/app"
	"github.com/grantwatch/grantwatch/pkg/org"
)

// fakeSTS answers GetCallerIdentity as the central account and AssumeRole for the roles it knows.
type fakeSTS struct {
	mu      sync.Mutex
	who     int
	assumed []*sts.AssumeRoleInput
	roles   map[string]bool // role ARN → exists and trusts the caller
}

func (f *fakeSTS) GetCallerIdentity(context.Context, *sts.GetCallerIdentityInput, ...func(*sts.Options)) (*sts.GetCallerIdentityOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.who++
	return &sts.GetCallerIdentityOutput{Account: aws.String("123456789012"),
		Arn: aws.String("arn:aws-us-gov:sts::123456789012:assumed-role/grantwatch-operator/alice")}, nil
}

func (f *fakeSTS) AssumeRole(_ context.Context, in *sts.AssumeRoleInput, _ ...func(*sts.Options)) (*sts.AssumeRoleOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.assumed = append(f.assumed, in)
	if !f.roles[aws.ToString(in.RoleArn)] {
		return nil, &smithy.GenericAPIError{Code: "AccessDenied", Message: "not authorized to perform: sts:AssumeRole"}
	}
	return &sts.AssumeRoleOutput{Credentials: &types.Credentials{AccessKeyId: aws.String("ASIAMEMBER"),
		SecretAccessKey: aws.String("s"), SessionToken: aws.String("t"), Expiration: aws.Time(time.Now().Add(time.Hour))}}, nil
}

func base() aws.Config {
	return aws.Config{Region: "us-gov-west-1", Credentials: credentials.NewStaticCredentialsProvider("AKIDCENTRAL", "s", "")}
}

// TestRoles: the own account keeps the base credentials; another account gets the member role's, assumed once for
// all its Regions under the session name given; a role that cannot be assumed is an AssumeError naming it.
func TestRoles(t *testing.T) {
	ctx := context.Background()
	member := org.MemberRoleARN("aws-us-gov", "111111111111")
	f := &fakeSTS{roles: map[string]bool{member: true}}
	r := org.NewWithAPI(base(), f, org.ReconcileSession)

	own, err := r.Config(ctx, "123456789012", "us-gov-east-1")
	if err != nil {
		t.Fatal(err)
	}
	if c, _ := own.Credentials.Retrieve(ctx); c.AccessKeyID != "AKIDCENTRAL" || own.Region != "us-gov-east-1" {
		t.Errorf("own account: credentials %s in %s; want the base credentials in us-gov-east-1", c.AccessKeyID, own.Region)
	}
	for _, region := range []string{"us-gov-west-1", "us-gov-east-1"} {
		cfg, err := r.Config(ctx, "111111111111", region)
		if err != nil {
			t.Fatalf("member in %s: %v", region, err)
		}
		if c, _ := cfg.Credentials.Retrieve(ctx); !strings.HasPrefix(c.AccessKeyID, "ASIA") || cfg.Region != region {
			t.Errorf("member in %s: credentials %s in %s; want the assumed role's", region, c.AccessKeyID, cfg.Region)
		}
	}
	if len(f.assumed) != 1 || aws.ToString(f.assumed[0].RoleArn) != member || aws.ToString(f.assumed[0].RoleSessionName) != org.ReconcileSession {
		t.Fatalf("AssumeRole calls = %+v; want one of %s as %s", f.assumed, member, org.ReconcileSession)
	}
	if f.who != 1 {
		t.Errorf("GetCallerIdentity called %d times; want once", f.who)
	}

	_, err = r.Config(ctx, "222222222222", "us-gov-west-1")
	var ae *org.AssumeError
	if !errors.As(err, &ae) || !errors.Is(err, app.ErrCouldNotAssume) {
		t.Fatalf("missing role: %v; want an AssumeError that is app.ErrCouldNotAssume", err)
	}
	want := org.MemberRoleARN("aws-us-gov", "222222222222")
	for _, s := range []string{want, "222222222222", "AccessDenied", org.CentralRolePath, "member.yaml"} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("missing role: %q does not name %s", err, s)
		}
	}
	if ae.RoleARN != want {
		t.Errorf("AssumeError.RoleARN = %s; want %s", ae.RoleARN, want)
	}
}

func TestMemberRoleARN(t *testing.T) {
	if got, want := org.MemberRoleARN("aws", "111122223333"), "arn:aws:iam::111122223333:role/grantwatch/grantwatch-member-reader"; got != want {
		t.Errorf("MemberRoleARN = %s; want %s", got, want)
	}
}
