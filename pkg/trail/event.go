package trail

import (
	"cmp"
	"slices"
	"strings"
	"time"
	"unicode"

	"github.com/grantwatch/grantwatch/pkg/lifecycle"
)

// kmsSource is the eventSource of KMS calls: the only records grantwatch consumes.
const kmsSource = "kms.amazonaws.com"

// keyType is the resources[] type of a KMS key.
const keyType = "AWS::KMS::Key"

// Event maps r to a lifecycle event. It returns an error wrapping ErrIgnored for a record grantwatch does not
// consume (not kms.amazonaws.com, an eventName lifecycle.Known does not list, or an errorCode), and another *Error when
// the record lacks what the rules need: eventID, an RFC 3339 eventTime, a key ARN, or a grant id for a grant call.
func (r *Record) Event() (lifecycle.Event, error) {
	switch {
	case r.EventSource != kmsSource:
		return lifecycle.Event{}, r.ignored("eventSource " + quote(r.EventSource) + " is not " + kmsSource)
	case !lifecycle.Known(r.EventName):
		return lifecycle.Event{}, r.ignored("eventName " + quote(r.EventName) + " is not a KMS call grantwatch consumes")
	case r.ErrorCode != "":
		// Checked before the unusable cases: a dry run has no responseElements, and that is fine.
		return lifecycle.Event{}, r.ignored(r.EventName + " failed with errorCode " + quote(r.ErrorCode) + ": it changed nothing")
	case r.EventID == "":
		what := r.EventName + " record"
		if r.RequestID != "" {
			what += " with requestID " + quote(r.RequestID) // the only other name the record has
		}
		return lifecycle.Event{}, r.unusable(what + " has no eventID")
	case r.EventTime == "":
		return lifecycle.Event{}, r.unusable(r.EventName + " has no eventTime")
	}
	at, err := time.Parse(time.RFC3339, r.EventTime)
	if err != nil {
		return lifecycle.Event{}, r.unusable(r.EventName + " has eventTime " + quote(r.EventTime) + ", not RFC 3339")
	}

	// Parts of the wrong shape read as empty; a missing required part is reported below.
	req, resp := &r.params, &r.response
	key := r.keyARN(req.KeyID, resp.KeyID)
	if key == "" {
		return lifecycle.Event{}, r.unusable(r.EventName + " names no KMS key: no key ARN in resources[], responseElements.keyId " +
			"or requestParameters.keyId, and no bare key id to build one from")
	}

	ev := lifecycle.Event{
		ID:     r.EventID,
		Name:   r.EventName,
		Time:   at.UTC(),
		KeyARN: key,
		Region: r.AWSRegion,
		// recipientAccountId is the account the record was delivered to: the key owner's for KMS calls.
		Account: r.RecipientAccountID,
		Caller: lifecycle.Caller{
			Type:      r.UserIdentity.Type,
			ARN:       r.UserIdentity.ARN,
			AccountID: r.UserIdentity.AccountID,
			InvokedBy: r.UserIdentity.InvokedBy,
		},
		SourceIP:  r.SourceIPAddress,
		UserAgent: r.UserAgent,
		RequestID: r.RequestID,
	}

	switch r.EventName {
	case lifecycle.CreateGrant:
		if resp.GrantID == "" {
			return lifecycle.Event{}, r.unusable("CreateGrant has no responseElements.grantId")
		}
		ev.GrantID = resp.GrantID
		ev.Grantee = cmp.Or(req.GranteePrincipal, req.GranteeServicePrincipal)
		ev.RetiringPrincipal = cmp.Or(req.RetiringPrincipal, req.RetiringServicePrincipal)
		ev.Operations = nonEmpty(slices.Clone(req.Operations))
		ev.ConstraintKeys = constraintKeys(req.ConstraintKeys)
		ev.GrantName = req.Name
	case lifecycle.RetireGrant:
		// The API also takes a grant token, which never names the grant; the id is what CloudTrail logs.
		ev.GrantID = cmp.Or(r.addGrantID, req.GrantID)
		if ev.GrantID == "" {
			return lifecycle.Event{}, r.unusable("RetireGrant has no additionalEventData.grantId or requestParameters.grantId")
		}
	case lifecycle.RevokeGrant:
		if req.GrantID == "" {
			return lifecycle.Event{}, r.unusable("RevokeGrant has no requestParameters.grantId")
		}
		ev.GrantID = req.GrantID
	}
	return ev, nil
}

func (r *Record) ignored(reason string) error {
	return &Error{EventID: r.EventID, Reason: reason, Err: ErrIgnored}
}

func (r *Record) unusable(reason string) error {
	return &Error{EventID: r.EventID, Reason: reason}
}

// keyARN finds the key the call used (grant-lifecycle.md §8 "Identity of a grant and key"), or returns "".
// An ARN present in the record wins over one built from awsRegion: published records are not always consistent
// (a us-east-1 record naming a us-west-2 key).
func (r *Record) keyARN(reqKeyID, respKeyID string) string {
	for _, res := range r.Resources {
		if res.Type == keyType && isKeyARN(res.ARN) {
			return res.ARN
		}
	}
	// Records from before December 2022 list the key without a type.
	for _, res := range r.Resources {
		if res.Type == "" && isKeyARN(res.ARN) {
			return res.ARN
		}
	}
	if isKeyARN(respKeyID) {
		return respKeyID
	}
	if isKeyARN(reqKeyID) {
		return reqKeyID
	}
	// A bare key id (never an alias: "alias/..." and alias ARNs contain a slash) names a key of the recipient account.
	if isToken(reqKeyID) {
		if arn := "arn:aws:kms:" + r.AWSRegion + ":" + r.RecipientAccountID + ":key/" + reqKeyID; isKeyARN(arn) {
			return arn
		}
	}
	return ""
}

// isKeyARN reports whether s is a KMS key ARN. The one definition is lifecycle's, which queries use too.
func isKeyARN(s string) bool { return lifecycle.IsKeyARN(s) }

// isToken reports whether s can be one part of an ARN: not empty, no separator, space or control character.
func isToken(s string) bool {
	return s != "" && !strings.ContainsFunc(s, func(c rune) bool {
		return c == ':' || c == '/' || unicode.IsSpace(c) || !unicode.IsPrint(c)
	})
}

// constraintKeys returns the sorted, distinct encryption-context key names of a grant's constraints.
func constraintKeys(keys []string) []string {
	if len(keys) == 0 {
		return nil
	}
	keys = slices.Clone(keys)
	slices.Sort(keys)
	return slices.Compact(keys)
}

// nonEmpty drops empty strings, which is what wrongly typed array elements decode to.
func nonEmpty(ss []string) []string {
	out := slices.DeleteFunc(ss, func(s string) bool { return s == "" })
	if len(out) == 0 {
		return nil
	}
	return out
}

// involvesBedrock reports whether an unusable KMS record could still concern a Bedrock grant: the caller or a
// principal it names is Bedrock, or it ends a grant it names (which may be a recorded Bedrock grant). Other
// unusable records are ignored, as every event that does not involve Bedrock is (grant-lifecycle.md §8, §9).
func (r *Record) involvesBedrock() bool {
	p := &r.params
	for _, s := range []string{r.UserIdentity.InvokedBy, r.SourceIPAddress, r.UserAgent, p.GranteePrincipal,
		p.GranteeServicePrincipal, p.RetiringPrincipal, p.RetiringServicePrincipal} {
		if lifecycle.IsBedrock(s) {
			return true
		}
	}
	return lifecycle.IsEnd(r.EventName) && cmp.Or(r.addGrantID, p.GrantID) != ""
}
