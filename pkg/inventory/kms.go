// Package inventory lists what KMS holds: the GrantLister adapter of the Reconcile use case, over KMS
// ListGrants.
package inventory

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/aws/smithy-go"

	"github.com/grantwatch/grantwatch/pkg/app"
	"github.com/grantwatch/grantwatch/pkg/lifecycle"
)

// PageSize is ListGrants' largest Limit.
const PageSize = 100

// API is the part of *kms.Client that Grants uses.
type API interface {
	kms.ListGrantsAPIClient
}

var (
	_ API             = (*kms.Client)(nil)
	_ app.GrantLister = (*Grants)(nil)
)

// Grants lists a key's grants.
type Grants struct{ api API }

// New returns a Grants on api.
func New(api API) *Grants { return &Grants{api: api} }

// ListGrants reads every page of the key's grants. Any failure fails the whole key with an error wrapping
// app.ErrCouldNotList and naming the reason: a partial list would make reconcile end grants that exist.
func (g *Grants) ListGrants(ctx context.Context, keyARN string) ([]lifecycle.ListedGrant, error) {
	pages := kms.NewListGrantsPaginator(g.api, &kms.ListGrantsInput{KeyId: aws.String(keyARN), Limit: aws.Int32(PageSize)})
	var out []lifecycle.ListedGrant
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("inventory: %w of %s (%s): %w", app.ErrCouldNotList, keyARN, reason(err), err)
		}
		for _, e := range page.Grants {
			out = append(out, listed(e))
		}
	}
	return out, nil
}

// reason names the failure for the report.
func reason(err error) string {
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		return "no answer from KMS"
	}
	switch code := ae.ErrorCode(); code {
	case "AccessDeniedException", "AccessDenied":
		return "access denied"
	case "ThrottlingException", "LimitExceededException", "TooManyRequestsException":
		return "throttled"
	case "NotFoundException":
		return "key not found"
	case "KMSInvalidStateException":
		return "key not usable (disabled or pending deletion)"
	default:
		return code
	}
}

func listed(e types.GrantListEntry) lifecycle.ListedGrant {
	l := lifecycle.ListedGrant{
		ID:                aws.ToString(e.GrantId),
		Grantee:           aws.ToString(e.GranteePrincipal),
		RetiringPrincipal: aws.ToString(e.RetiringPrincipal),
		Name:              aws.ToString(e.Name),
		CreatedAt:         aws.ToTime(e.CreationDate),
	}
	for _, op := range e.Operations {
		l.Operations = append(l.Operations, string(op))
	}
	if c := e.Constraints; c != nil {
		for k := range c.EncryptionContextSubset {
			l.ConstraintKeys = append(l.ConstraintKeys, k)
		}
		for k := range c.EncryptionContextEquals {
			l.ConstraintKeys = append(l.ConstraintKeys, k)
		}
		slices.Sort(l.ConstraintKeys)
		l.ConstraintKeys = slices.Compact(l.ConstraintKeys)
	}
	return l
}
