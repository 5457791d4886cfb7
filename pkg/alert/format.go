package alert

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/grantwatch/grantwatch/pkg/lifecycle"
)

// MaxSubject is SNS's limit on a subject: 100 ASCII characters.
const MaxSubject = 100

// Message is one notice rendered for people (Subject, Text) and machines (Document).
type Message struct {
	Subject    string
	Text       string
	Document   Document
	Attributes map[string]string // SNS MessageAttributes, for subscription filter policies
}

// Document is the JSON form of a notice. Version it when a field changes meaning.
type Document struct {
	Version     string      `json:"version"`          // "1"
	Notice      string      `json:"notice"`           // alert, reminder, resolved
	NoticeID    string      `json:"noticeId"`         // the same for every send of one notice: drop repeats by it
	Resend      bool        `json:"resend,omitempty"` // an earlier send of this notice may have arrived already
	Type        string      `json:"type"`
	Severity    string      `json:"severity"`
	GrantID     string      `json:"grantId,omitempty"`
	KeyARN      string      `json:"keyArn"`
	Account     string      `json:"account"`
	AccountName string      `json:"accountName,omitempty"` // what people call the account, when the account names say
	Region      string      `json:"region"`
	Message     string      `json:"message"`
	RaisedAt    time.Time   `json:"raisedAt"`
	ResolvedAt  *time.Time  `json:"resolvedAt,omitempty"`
	Resolution  string      `json:"resolution,omitempty"`
	Grant       *GrantFacts `json:"grant,omitempty"`
	Remediation string      `json:"remediation,omitempty"` // the command that ends the grant
	Investigate string      `json:"investigate"`
	Text        string      `json:"text"` // the human form, for relays that show one field
}

// GrantFacts are the facts about the grant an alert reader needs. Encryption context: key names only.
type GrantFacts struct {
	Kind              string                   `json:"kind,omitempty"`
	State             string                   `json:"state"`
	ParentGrantID     string                   `json:"parentGrantId,omitempty"`
	Grantee           string                   `json:"grantee,omitempty"`
	RetiringPrincipal string                   `json:"retiringPrincipal,omitempty"`
	Operations        []string                 `json:"operations,omitempty"`
	ConstraintKeys    []string                 `json:"constraintKeys,omitempty"`
	CreatedAt         *time.Time               `json:"createdAt,omitempty"`
	EndedAt           *time.Time               `json:"endedAt,omitempty"`
	Timeline          []lifecycle.HistoryEntry `json:"timeline,omitempty"`
}

// Render turns a notice into the message that is published, naming no account.
func Render(n lifecycle.Notice) Message { return AccountNames(nil).Render(n) }

// AccountNames are the names people know accounts by (id → name, as ACCOUNT_NAMES configures them). Messages name an
// account by its id and, when it has one here, its name.
type AccountNames map[string]string

// Render turns a notice into the message that is published.
func (names AccountNames) Render(n lifecycle.Notice) Message {
	a := n.Alert
	account, region, keyID := parseKeyARN(a.KeyARN)
	doc := Document{
		Version: "1", Notice: string(n.Kind), NoticeID: n.ID(), Resend: n.Resend, Type: string(a.Type), Severity: string(a.Severity),
		GrantID: a.GrantID, KeyARN: a.KeyARN, Account: account, AccountName: names[account], Region: region, Message: a.Message,
		RaisedAt: a.RaisedAt.UTC(), Resolution: a.Resolution,
		Remediation: remediation(n), Investigate: investigate(a),
	}
	if !a.ResolvedAt.IsZero() {
		t := a.ResolvedAt.UTC()
		doc.ResolvedAt = &t
	}
	if n.Grant.ID != "" {
		doc.Grant = facts(n.Grant)
	}
	subject := subject(n, keyID, or(short(doc.AccountName, maxSubjectName), account), region)
	text := body(n, doc)
	doc.Text = text
	return Message{Subject: subject, Text: text, Document: doc, Attributes: map[string]string{
		"type": string(a.Type), "severity": string(a.Severity), "notice": string(n.Kind), "noticeId": doc.NoticeID,
		"keyArn": a.KeyARN, "account": account, "accountName": doc.AccountName, "region": region,
	}}
}

// maxSubjectName is as much of an account's name as a subject shows: the text and the document carry all of it.
const maxSubjectName = 24

func facts(g lifecycle.Grant) *GrantFacts {
	f := &GrantFacts{Kind: string(g.Kind), State: string(g.State()), ParentGrantID: g.ParentID, Grantee: g.Grantee,
		RetiringPrincipal: g.RetiringPrincipal, Operations: g.Operations, ConstraintKeys: g.ConstraintKeys,
		Timeline: g.History}
	if g.Created() {
		t := g.CreatedAt.UTC()
		f.CreatedAt = &t
	}
	if g.Ended() {
		t := g.EndedAt.UTC()
		f.EndedAt = &t
	}
	return f
}

// subject is short enough for a phone's lock screen: severity, type, short grant id, short key id, the account (its
// name when it has one), region, and the notice id, which is never cut off (the region is, then the account, in the
// rare case that all of it does not fit).
func subject(n lifecycle.Notice, keyID, account, region string) string {
	a := n.Alert
	var b strings.Builder
	switch n.Kind {
	case lifecycle.NoticeResolved:
		b.WriteString("[RESOLVED] ")
	case lifecycle.NoticeReminder:
		fmt.Fprintf(&b, "[%s] REMINDER ", strings.ToUpper(string(a.Severity)))
	default:
		fmt.Fprintf(&b, "[%s] ", strings.ToUpper(string(a.Severity)))
	}
	b.WriteString(string(a.Type))
	if a.GrantID != "" {
		b.WriteString(" grant " + short(a.GrantID, 8))
	}
	b.WriteString(" key " + short(keyID, 8))
	id := " #" + n.ID()
	// The account and the region go whole or not at all, the region first: a cut word reads as another name.
	head := ascii(b.String(), MaxSubject-len(id))
	for _, tail := range [][]string{{account, region}, {account}, nil} {
		s := head
		for _, w := range tail {
			if w != "" {
				s += " " + w
			}
		}
		if s = ascii(s, MaxSubject); len(s)+len(id) <= MaxSubject {
			return s + id
		}
	}
	return head + id
}

func body(n lifecycle.Notice, doc Document) string {
	a := n.Alert
	var b strings.Builder
	line := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	switch n.Kind {
	case lifecycle.NoticeResolved:
		line("RESOLVED: %s on grant %s: %s.", a.Type, a.GrantID, a.Resolution)
		line("No action needed. The alert raised at %s is closed.", stamp(a.RaisedAt))
	case lifecycle.NoticeReminder:
		line("REMINDER (%s): %s is still open, first notified %s.", strings.ToUpper(string(a.Severity)), a.Type, stamp(a.NotifiedAt))
	default:
		line("%s: %s", strings.ToUpper(string(a.Severity)), a.Type)
	}
	line("")
	line("What happened")
	line("  %s", a.Message)
	spec, _ := lifecycle.SpecOf(a.Type)
	if n.Kind != lifecycle.NoticeResolved {
		line("")
		line("Why it matters")
		line("  %s", spec.Why)
	}
	line("")
	line("Where")
	line("  key:     %s", a.KeyARN)
	if doc.AccountName != "" {
		line("  account: %s (%s)  region: %s", doc.Account, doc.AccountName, doc.Region)
	} else {
		line("  account: %s  region: %s", doc.Account, doc.Region)
	}
	if g := doc.Grant; g != nil {
		line("  grant:   %s (%s, %s)", a.GrantID, g.Kind, g.State)
		if g.ParentGrantID != "" {
			line("  parent:  %s", g.ParentGrantID)
		}
		if g.Grantee != "" || g.RetiringPrincipal != "" {
			line("  grantee: %s  retiring principal: %s", or(g.Grantee, "none"), or(g.RetiringPrincipal, "none"))
		}
		if len(g.Operations) > 0 {
			line("  operations: %s", strings.Join(g.Operations, ", "))
		}
		if len(g.ConstraintKeys) > 0 {
			line("  encryption context keys: %s", strings.Join(g.ConstraintKeys, ", "))
		}
		line("")
		line("Timeline (UTC)")
		for _, e := range timeline(n.Grant) {
			line("  %s  %s", e.at, e.what)
		}
	}
	if n.Kind != lifecycle.NoticeResolved && doc.Remediation != "" {
		line("")
		line("What to do")
		line("  %s", todo[spec.Remedy])
		line("  %s", doc.Remediation)
	}
	line("")
	line("Investigate")
	line("  %s", doc.Investigate)
	line("")
	if n.Resend {
		line("Notice %s (sent again: an earlier send may have reached you; drop repeats by notice id)", doc.NoticeID)
	} else {
		line("Notice %s", doc.NoticeID)
	}
	return b.String()
}

// todo introduces each remedy's command.
var todo = map[lifecycle.Remedy]string{
	lifecycle.EndGrant:      "Confirm no Bedrock job or model still needs this grant, then end it:",
	lifecycle.FindGrantUsed: "Find the grant or key-policy permission Bedrock used, and remove it:",
	lifecycle.FreeGrants:    "End the grants on the key that nothing needs any more, or raise the grants-per-key quota:",
}

type step struct{ at, what string }

// timeline merges the grant's applied events and its alerts' milestones, in time order.
func timeline(g lifecycle.Grant) []step {
	type ev struct {
		t    time.Time
		what string
	}
	var evs []ev
	for _, h := range g.History {
		evs = append(evs, ev{h.Time, h.Name + " by " + or(h.Caller, "unknown")})
	}
	for _, a := range g.Alerts {
		evs = append(evs, ev{a.RaisedAt, "alert " + string(a.Type) + " raised"})
	}
	slices.SortStableFunc(evs, func(x, y ev) int { return x.t.Compare(y.t) })
	out := make([]step, len(evs))
	for i, e := range evs {
		out[i] = step{stamp(e.t), e.what}
	}
	return out
}

// remediation is the command for the alert's remedy (lifecycle.AlertSpec). To end a grant: RetireGrant works for
// the grant's retiring principal; Bedrock's own grants name Bedrock there, so for them (and for grants with no
// retiring principal) a key administrator revokes. Revoking a primary breaks its custom model: only orphaned-primary
// (model deleted) suggests it without a warning.
func remediation(n lifecycle.Notice) string {
	a, g := n.Alert, n.Grant
	spec, _ := lifecycle.SpecOf(a.Type)
	switch {
	case spec.Remedy == lifecycle.FreeGrants:
		return "aws kms list-grants --key-id " + a.KeyARN + "   # then retire or revoke the grants no longer needed"
	case spec.Remedy == lifecycle.FindGrantUsed || a.GrantID == "":
		return "aws kms list-grants --key-id " + a.KeyARN + "   # find the grant Bedrock used, then revoke it"
	case g.Kind == lifecycle.Primary && a.Type != lifecycle.OrphanedPrimary:
		return "aws kms revoke-grant --key-id " + a.KeyARN + " --grant-id " + a.GrantID +
			"   # a primary serves a custom model: revoking breaks the model"
	case g.RetiringPrincipal != "" && !lifecycle.IsBedrock(g.RetiringPrincipal):
		return "aws kms retire-grant --key-id " + a.KeyARN + " --grant-id " + a.GrantID +
			"   # as " + g.RetiringPrincipal
	}
	return "aws kms revoke-grant --key-id " + a.KeyARN + " --grant-id " + a.GrantID
}

func investigate(a lifecycle.Alert) string {
	if a.GrantID == "" {
		return "aws kms list-grants --key-id " + a.KeyARN
	}
	return "grantwatch history " + a.GrantID
}

// JSON returns the document as JSON.
func (m Message) JSON() ([]byte, error) { return json.Marshal(m.Document) }

// parseKeyARN returns account, region and key id of arn:aws:kms:<region>:<account>:key/<id>.
func parseKeyARN(arn string) (account, region, keyID string) {
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) != 6 {
		return "", "", arn
	}
	id, _ := strings.CutPrefix(parts[5], "key/")
	return parts[4], parts[3], id
}

func short(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}

// ascii keeps printable ASCII (SNS subjects allow nothing else) and cuts to limit.
func ascii(s string, limit int) string {
	b := []byte(s)
	out := b[:0]
	for _, c := range b {
		if c >= 0x20 && c < 0x7f {
			out = append(out, c)
		}
	}
	if len(out) > limit {
		out = out[:limit]
	}
	return string(out)
}

func stamp(t time.Time) string {
	if t.IsZero() {
		return "unknown"
	}
	return t.UTC().Format("2006-01-02 15:04:05Z")
}

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
