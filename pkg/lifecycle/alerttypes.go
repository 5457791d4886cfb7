package lifecycle

import "slices"

// AlertSpec is everything grantwatch says about one alert type, in one place. The rules raise alerts with its
// severity; pkg/alert renders its why and remedy into every message (text, JSON document, SNS attributes); the
// query API (api/openapi.yaml, pkg/queryapi) and the replay contract show its type. A test in pkg/alert walks every
// spec through each of them.
type AlertSpec struct {
	Type     AlertType // also the value in the API's enum and the SNS "type" attribute
	Severity Severity
	Scope    AlertScope // what the alert is about, and so which facts its message carries
	Why      string     // why it matters: what a person reading on a phone needs to decide to act
	Remedy   Remedy     // what the message tells the reader to do
}

// AlertScope says what an alert is about.
type AlertScope string

// The scopes. A grant alert's message carries the grant (its id, kind, state, parent, grantee, retiring principal,
// operations, encryption-context key names and timeline) and points to `grantwatch history`; a key alert's carries
// the key alone and points to `aws kms list-grants`.
const (
	GrantScope AlertScope = "grant"
	KeyScope   AlertScope = "key"
)

// Remedy is the action an alert asks for; pkg/alert turns it into the command for the alert's grant or key.
type Remedy string

// The remedies.
const (
	// EndGrant: retire the grant as its retiring principal when that is a customer principal, else revoke it (a key
	// administrator); for a primary the command warns that revoking breaks its custom model.
	EndGrant Remedy = "end-grant"
	// FindGrantUsed: list the key's grants and revoke the permission Bedrock used, which grantwatch does not know.
	FindGrantUsed Remedy = "find-grant-used"
	// FreeGrants: retire or revoke the grants no longer needed, or raise the grants-per-key quota.
	FreeGrants Remedy = "free-grants"
)

// alertSpecs is the table, in the order the rules are listed in grant-lifecycle.md §8.
var alertSpecs = []AlertSpec{
	{Type: LongLivedSecondary, Severity: High, Scope: GrantScope, Remedy: EndGrant,
		Why: "Bedrock retires a secondary grant when the job it serves ends (a Data Automation invocation grant after 30 " +
			"hours). One still active keeps Bedrock able to use your key for data it no longer processes for you."},
	{Type: OrphanedSecondary, Severity: High, Scope: GrantScope, Remedy: EndGrant,
		Why: "Its primary grant is gone, so the custom model it served no longer holds your key; the secondary still " +
			"lets Bedrock use the key."},
	{Type: OrphanedPrimary, Severity: Medium, Scope: GrantScope, Remedy: EndGrant,
		Why: "The custom model this primary grant protected was deleted. Bedrock retires the primary with the model; " +
			"one left active keeps a standing permission on your key."},
	{Type: UseAfterRetire, Severity: Critical, Scope: KeyScope, Remedy: FindGrantUsed,
		Why: "The Bedrock service used your key after every Bedrock grant on it had ended: some permission grantwatch " +
			"does not know about is in play."},
	{Type: ScopeEscalation, Severity: High, Scope: GrantScope, Remedy: EndGrant,
		Why: "A secondary grant may only narrow its primary. Wider operations give Bedrock more than the job needs."},
	{Type: UnexpectedGrantee, Severity: High, Scope: GrantScope, Remedy: EndGrant,
		Why: "A grant created through Bedrock names a grantee that is not Bedrock: someone may be using Bedrock to hand " +
			"out access to your key."},
	{Type: MissingRetiringPrincipal, Severity: Medium, Scope: GrantScope, Remedy: EndGrant,
		Why: "Without a retiring principal only a key administrator can end this grant; nothing will retire it " +
			"automatically."},
	{Type: GrantQuota, Severity: Medium, Scope: KeyScope, Remedy: FreeGrants,
		Why: "KMS allows 50,000 grants per key by default (the quota is adjustable). At the quota every CreateGrant on " +
			"the key fails, and with it every new Bedrock job that uses the key."},
	{Type: UntrackedGrant, Severity: High, Scope: GrantScope, Remedy: EndGrant,
		Why: "KMS lists a live Bedrock grant on your key that no CloudTrail event told grantwatch about: events were " +
			"lost or never logged (a trail that excludes KMS events, a delivery that failed), so until it is explained " +
			"grantwatch's picture of who can use your key was incomplete, and the grant itself may be one nobody meant."},
}

// AlertSpecs returns the table of alert types, one row per type, in the order of grant-lifecycle.md §8.
func AlertSpecs() []AlertSpec { return slices.Clone(alertSpecs) }

// SpecOf returns the row of t, and false for a type grantwatch does not know.
func SpecOf(t AlertType) (AlertSpec, bool) {
	i := slices.IndexFunc(alertSpecs, func(s AlertSpec) bool { return s.Type == t })
	if i < 0 {
		return AlertSpec{}, false
	}
	return alertSpecs[i], true
}
