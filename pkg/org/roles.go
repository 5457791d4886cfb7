package org

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"

	"github.com/grantwatch/grantwatch/pkg/app"
)

// API is the part of *sts.Client that Roles uses.
type API interface {
	stscreds.AssumeRoleAPIClient
	GetCallerIdentity(ctx context.Context, in *sts.GetCallerIdentityInput, optFns ...func(*sts.Options)) (*sts.GetCallerIdentityOutput, error)
}

var _ API = (*sts.Client)(nil)

// Roles gives AWS configurations that act in an account and Region: the base configuration's own credentials in
// its own account, the member role's (MemberRoleARN) in any other. It is safe for concurrent use.
type Roles struct {
	base    aws.Config
	api     API
	session string

	mu    sync.Mutex
	self  *identity
	creds map[string]*aws.CredentialsCache // by account: one set of credentials serves all of its Regions
}

type identity struct{ account, partition string }

// New returns Roles on base (its STS client is made from base), assuming roles under the session name session
// (BackfillSession, ReconcileSession, or one that names a person's tool).
func New(base aws.Config, session string) *Roles {
	return NewWithAPI(base, sts.NewFromConfig(base), session)
}

// NewWithAPI is New with the STS client given.
func NewWithAPI(base aws.Config, api API, session string) *Roles {
	return &Roles{base: base, api: api, session: session, creds: map[string]*aws.CredentialsCache{}}
}

// Self returns the account and partition of the base credentials, asking STS once (GetCallerIdentity needs no
// permission). A failure is not remembered: the next call asks again.
func (r *Roles) Self(ctx context.Context) (account, partition string, err error) {
	r.mu.Lock()
	id := r.self
	r.mu.Unlock()
	if id != nil {
		return id.account, id.partition, nil
	}
	out, err := r.api.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		return "", "", fmt.Errorf("org: which account these credentials are in (STS GetCallerIdentity): %w", err)
	}
	partition = "aws"
	if parts := strings.SplitN(aws.ToString(out.Arn), ":", 3); len(parts) == 3 && parts[1] != "" {
		partition = parts[1]
	}
	id = &identity{account: aws.ToString(out.Account), partition: partition}
	r.mu.Lock()
	r.self = id
	r.mu.Unlock()
	return id.account, id.partition, nil
}

// Config returns the base configuration acting in account and region. In the base credentials' own account that is
// the base credentials; in another it is the member role's, assumed with stscreds and refreshed before they expire.
// They are retrieved now, so that a role that cannot be assumed is known before anything is asked of the account:
// the error is then an *AssumeError.
func (r *Roles) Config(ctx context.Context, account, region string) (aws.Config, error) {
	self, partition, err := r.Self(ctx)
	if err != nil {
		return aws.Config{}, err
	}
	cfg := r.base.Copy()
	if region != "" {
		cfg.Region = region
	}
	if account == self {
		return cfg, nil
	}
	role := MemberRoleARN(partition, account)
	r.mu.Lock()
	cache := r.creds[account]
	if cache == nil {
		cache = aws.NewCredentialsCache(stscreds.NewAssumeRoleProvider(r.api, role, func(o *stscreds.AssumeRoleOptions) {
			o.RoleSessionName = r.session
		}))
		r.creds[account] = cache
	}
	r.mu.Unlock()
	if _, err := cache.Retrieve(ctx); err != nil {
		if ctx.Err() != nil {
			return aws.Config{}, err
		}
		return aws.Config{}, &AssumeError{Account: account, RoleARN: role, Err: err}
	}
	cfg.Credentials = cache
	return cfg, nil
}

// AssumeError is a member role that could not be assumed: it is missing, it does not trust these credentials, or
// STS failed. It is an app.ErrCouldNotAssume: nothing in the account could be checked.
type AssumeError struct {
	Account string
	RoleARN string
	Err     error
}

func (e *AssumeError) Error() string {
	return fmt.Sprintf("could not assume %s in account %s (%s): deploy deploy/member.yaml there (in the central Region) and use credentials of a role under %s of the central account",
		e.RoleARN, e.Account, reason(e.Err), CentralRolePath)
}

// Unwrap gives both the kind and the cause, so that callers can explain the cause (a timeout, an endpoint).
func (e *AssumeError) Unwrap() []error { return []error{app.ErrCouldNotAssume, e.Err} }

// reason names the failure in a few words: the API error code and message, or the error.
func reason(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode() + ": " + ae.ErrorMessage()
	}
	return err.Error()
}
