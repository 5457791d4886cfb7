// Package lifecycle is the grantwatch domain: what a Bedrock KMS grant is, how CloudTrail events move it between
// states, and which alert rules apply (grant-lifecycle.md §8). It is pure Go: no AWS types, no I/O, no logging and
// no clock of its own; every time it uses arrives as an argument.
package lifecycle

import (
	"strings"
	"time"
)

// KMS API calls grantwatch consumes, as CloudTrail names them.
const (
	CreateGrant                     = "CreateGrant"
	RetireGrant                     = "RetireGrant"
	RevokeGrant                     = "RevokeGrant"
	Decrypt                         = "Decrypt"
	GenerateDataKey                 = "GenerateDataKey"
	GenerateDataKeyWithoutPlaintext = "GenerateDataKeyWithoutPlaintext"
	DescribeKey                     = "DescribeKey"
)

// IsUse reports whether name is a key-use call (Decrypt, GenerateDataKey*, DescribeKey): it carries no grant id.
func IsUse(name string) bool {
	switch name {
	case Decrypt, GenerateDataKey, GenerateDataKeyWithoutPlaintext, DescribeKey:
		return true
	}
	return false
}

// IsEnd reports whether name ends a grant.
func IsEnd(name string) bool { return name == RetireGrant || name == RevokeGrant }

// Known reports whether name is one of the calls grantwatch consumes.
func Known(name string) bool { return name == CreateGrant || IsEnd(name) || IsUse(name) }

// Caller is who made a call, as CloudTrail's userIdentity shows it.
type Caller struct {
	Type      string // AssumedRole, IAMUser, AWSService, ...
	ARN       string // role session or user ARN; empty for AWSService
	AccountID string // the caller's account
	InvokedBy string // the service that made the call for the principal
}

// Name is how a caller is shown: the role session or user ARN, else type/invokedBy for service calls.
func (c Caller) Name() string {
	switch {
	case c.ARN != "":
		return c.ARN
	case c.InvokedBy != "":
		return c.Type + "/" + c.InvokedBy
	}
	return c.Type
}

// IsBedrockService reports whether the caller is the Bedrock service itself, acting under its own grant.
func (c Caller) IsBedrockService() bool { return c.Type == "AWSService" && IsBedrock(c.InvokedBy) }

// Event is one CloudTrail record of a KMS call, reduced to what the rules need. pkg/trail builds it.
type Event struct {
	ID        string    // CloudTrail eventID: the idempotency key
	Name      string    // CreateGrant, RetireGrant, ...
	Time      time.Time // eventTime
	KeyARN    string    // always a full key ARN, never an alias
	GrantID   string    // empty for use calls
	Region    string
	Account   string // recipientAccountId
	Caller    Caller
	SourceIP  string
	UserAgent string
	RequestID string

	// CreateGrant only.
	Grantee           string   // granteePrincipal or granteeServicePrincipal
	RetiringPrincipal string   // retiringPrincipal or retiringServicePrincipal
	Operations        []string // requestParameters.operations
	ConstraintKeys    []string // encryption-context keys named by the constraints (values are not kept)
	GrantName         string   // requestParameters.name
}

// ThroughBedrock reports whether the call was made through Bedrock: invokedBy, sourceIPAddress or userAgent names it.
func (e Event) ThroughBedrock() bool {
	return IsBedrock(e.Caller.InvokedBy) || IsBedrock(e.SourceIP) || IsBedrock(e.UserAgent)
}

// InvolvesBedrock reports whether a CreateGrant involves Bedrock (§8 "Which events matter"): made through Bedrock,
// or naming Bedrock as grantee or retiring principal. For other calls it reports ThroughBedrock.
func (e Event) InvolvesBedrock() bool {
	if e.ThroughBedrock() {
		return true
	}
	return e.Name == CreateGrant && (IsBedrock(e.Grantee) || IsBedrock(e.RetiringPrincipal))
}

// IsBedrock reports whether p is the Bedrock service principal: bedrock.amazonaws.com or bedrock.<region>.amazonaws.com.
func IsBedrock(p string) bool {
	if p == "bedrock.amazonaws.com" {
		return true
	}
	region, ok := strings.CutPrefix(p, "bedrock.")
	if !ok {
		return false
	}
	region, ok = strings.CutSuffix(region, ".amazonaws.com")
	return ok && isRegion(region)
}

// isRegion accepts the shape of an AWS region name: lower-case letters, digits and dashes, e.g. us-east-1.
func isRegion(s string) bool {
	if s == "" || !strings.Contains(s, "-") {
		return false
	}
	for _, r := range s {
		if (r < 'a' || r > 'z') && (r < '0' || r > '9') && r != '-' {
			return false
		}
	}
	return true
}
