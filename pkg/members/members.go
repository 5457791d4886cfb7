// Package members reads a whole organization's member accounts for the use cases: backfill's event sources and
// reconcile's grant listers, in each account through its member role (org.Roles), for BackfillFunction,
// ReconcileFunction and the CLI alike. It joins three adapters (org, lookup, inventory), which import no other
// adapter themselves; nothing but the composition roots imports it.
package members

import (
	"context"
	"fmt"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/grantwatch/grantwatch/pkg/app"
	"github.com/grantwatch/grantwatch/pkg/inventory"
	"github.com/grantwatch/grantwatch/pkg/lifecycle"
	"github.com/grantwatch/grantwatch/pkg/lookup"
	"github.com/grantwatch/grantwatch/pkg/org"
)

// Sources opens backfill targets: LookupEvents in the target's Region with the credentials Roles gives for its
// account, each through a lookup.Lookup of its own, so each account-Region has its own rate limiter (CloudTrail's
// 2 requests/s is per account and Region). A target without an account is Base's own account (in Base's Region
// when it names none either).
type Sources struct {
	Roles   *org.Roles
	Base    aws.Config
	Options lookup.Options
}

var _ app.EventSources = Sources{}

// Open returns the target's event history, or why its account cannot be entered (an *org.AssumeError).
func (s Sources) Open(ctx context.Context, t app.Target) (app.EventSource, error) {
	if t.Account == "" {
		cfg := s.Base.Copy()
		if t.Region != "" {
			cfg.Region = t.Region
		}
		return lookup.New(cfg, s.Options), nil
	}
	cfg, err := s.Roles.Config(ctx, t.Account, t.Region)
	if err != nil {
		return nil, err
	}
	return lookup.New(cfg, s.Options), nil
}

// Listers lists a key's grants in the key's own account and Region: the credentials Roles gives for the account the
// key ARN names (the functions' own for their account, the member role's for any other), a KMS client per account
// and Region. It is safe for concurrent use.
type Listers struct {
	roles *org.Roles

	mu      sync.Mutex
	listers map[string]app.GrantLister // by account and Region
}

var _ app.GrantLister = (*Listers)(nil)

// NewListers returns Listers on roles.
func NewListers(roles *org.Roles) *Listers {
	return &Listers{roles: roles, listers: map[string]app.GrantLister{}}
}

// ListGrants lists the key's grants, or fails with app.ErrCouldNotList; when the key's account could not be entered,
// also with app.ErrCouldNotAssume.
func (l *Listers) ListGrants(ctx context.Context, keyARN string) ([]lifecycle.ListedGrant, error) {
	_, region, account := lifecycle.KeyPlace(keyARN)
	l.mu.Lock()
	lister := l.listers[account+"/"+region]
	l.mu.Unlock()
	if lister == nil {
		cfg, err := l.roles.Config(ctx, account, region)
		if err != nil {
			return nil, fmt.Errorf("%w of %s: %w", app.ErrCouldNotList, keyARN, err)
		}
		lister = inventory.New(kms.NewFromConfig(cfg))
		l.mu.Lock()
		l.listers[account+"/"+region] = lister
		l.mu.Unlock()
	}
	return lister.ListGrants(ctx, keyARN)
}
