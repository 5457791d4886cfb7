package lifecycle

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// AlertType names an alert rule (§8 "Alerts"). Severity, why it matters and the remedy of each are in one table,
// alertSpecs (alerttypes.go).
type AlertType string

// The alert rules.
const (
	LongLivedSecondary       AlertType = "long-lived-secondary"
	OrphanedSecondary        AlertType = "orphaned-secondary"
	OrphanedPrimary          AlertType = "orphaned-primary" // job-aware (jobs.go)
	UseAfterRetire           AlertType = "use-after-retire"
	ScopeEscalation          AlertType = "scope-escalation"
	UnexpectedGrantee        AlertType = "unexpected-grantee"
	MissingRetiringPrincipal AlertType = "missing-retiring-principal"
	GrantQuota               AlertType = "grant-quota"     // key-level: active grants near the per-key quota (quota.go)
	UntrackedGrant           AlertType = "untracked-grant" // KMS lists a live Bedrock grant no event recorded (reconcile.go)
)

// Severity ranks an alert.
type Severity string

// The severities.
const (
	Low      Severity = "low"
	Medium   Severity = "medium"
	High     Severity = "high"
	Critical Severity = "critical"
)

// severities is the severity of each type, from the table.
var severities = func() map[AlertType]Severity {
	m := make(map[AlertType]Severity, len(alertSpecs))
	for _, s := range alertSpecs {
		m[s.Type] = s.Severity
	}
	return m
}()

// Alert is one raised alert. GrantID is empty for key-level alerts (use-after-retire).
type Alert struct {
	Type     AlertType
	Severity Severity
	GrantID  string
	KeyARN   string
	Message  string
	RaisedAt time.Time // the time the rule was evaluated at: an event's time or the sweep's

	// Delivery (notify.go). Each notice time is its issue time, written by the claim that first sends it in the same
	// conditional write, so two writers racing cannot both send it.
	NotifiedAt           time.Time  // the first notification was claimed
	RemindedAt           time.Time  // the latest reminder was claimed
	ResolvedAt           time.Time  // the grant ended: nothing left to act on
	Resolution           string     // how it ended, e.g. "retired after 31h0m0s"
	ResolutionNotifiedAt time.Time  // the resolution notice was claimed
	Unconfirmed          NoticeKind // the notice claimed and not yet confirmed sent; "" when every claimed one was
	LeasedAt             time.Time  // when the current claim of the Unconfirmed notice began; zero once released
}

// Config holds the thresholds of the rules. Use DefaultConfig and change what you need.
type Config struct {
	SecondaryMaxAge      time.Duration // long-lived-secondary for secondaries
	DataAutomationMaxAge time.Duration // long-lived-secondary for Data Automation invocation grants (30h lifetime + 1h grace)
	OrphanGrace          time.Duration // how long a secondary may outlive its parent
	UseAfterRetireGrace  time.Duration // how long after the last grant ended a Bedrock call is still tolerated
	UseSettle            time.Duration // how old a Bedrock call must be before the sweep checks it (delivery lag)
	JobGrace             time.Duration // how long a secondary may outlive the Bedrock job it served (jobs.go)
	ModelDeletedGrace    time.Duration // how long a primary may outlive its deleted custom model (jobs.go)
}

// DefaultConfig returns the documented defaults.
func DefaultConfig() Config {
	return Config{
		SecondaryMaxAge:      24 * time.Hour,
		DataAutomationMaxAge: 31 * time.Hour,
		OrphanGrace:          5 * time.Minute,
		UseAfterRetireGrace:  5 * time.Minute,
		UseSettle:            15 * time.Minute,
		JobGrace:             time.Hour,
		ModelDeletedGrace:    time.Hour,
	}
}

// DeliveryRetry is how late a live event may still arrive: EventBridge retries delivery to its target for 24 hours
// (grant-lifecycle.md §4).
const DeliveryRetry = 24 * time.Hour

// Retention is how long an ended grant stays in the working set: the longest rule window plus DeliveryRetry. Once it
// has passed, no rule and no late live event needs the grant (workingset.go); backfill and replay reach further back
// and load the archive when they do.
func (c Config) Retention() time.Duration {
	return max(c.OrphanGrace, c.UseAfterRetireGrace, c.UseSettle, c.JobGrace, c.ModelDeletedGrace, ReconcileGrace) + DeliveryRetry
}

// ErrInvalidConfig is the kind of a Config with a threshold that cannot be used.
var ErrInvalidConfig = errors.New("invalid rule thresholds")

// ConfigError lists the thresholds of a Config that are not positive, by the names people know them by.
type ConfigError struct {
	Bad []Threshold // sorted by name
}

// Threshold is one named threshold of a Config and its value.
type Threshold struct {
	Name  string // "secondary max age"
	Value time.Duration
}

func (e *ConfigError) Error() string {
	msgs := make([]string, len(e.Bad))
	for i, b := range e.Bad {
		msgs[i] = fmt.Sprintf("%s must be positive, got %s", b.Name, b.Value)
	}
	return "invalid rule thresholds: " + strings.Join(msgs, "; ")
}

func (e *ConfigError) Unwrap() error { return ErrInvalidConfig }

// Validate reports every threshold that is not positive, as a *ConfigError.
func (c Config) Validate() error {
	var bad []Threshold
	for name, d := range map[string]time.Duration{
		"secondary max age": c.SecondaryMaxAge, "data automation max age": c.DataAutomationMaxAge,
		"orphan grace": c.OrphanGrace, "use-after-retire grace": c.UseAfterRetireGrace, "use settle": c.UseSettle,
		"job grace": c.JobGrace, "model deleted grace": c.ModelDeletedGrace,
	} {
		if d <= 0 {
			bad = append(bad, Threshold{Name: name, Value: d})
		}
	}
	if len(bad) == 0 {
		return nil
	}
	slices.SortFunc(bad, func(a, b Threshold) int { return strings.Compare(a.Name, b.Name) })
	return &ConfigError{Bad: bad}
}

func newAlert(t AlertType, g Grant, at time.Time, format string, args ...any) Alert {
	return Alert{Type: t, Severity: severities[t], GrantID: g.ID, KeyARN: g.KeyARN, Message: fmt.Sprintf(format, args...), RaisedAt: at}
}

// grantAlerts evaluates the per-grant rules for g at time at. parent is nil when unknown.
// Messages hold only facts that do not depend on the order events arrived in.
func grantAlerts(g Grant, parent *PrimaryRef, at time.Time, cfg Config) []Alert {
	if !g.Created() || g.Pending {
		return nil
	}
	var out []Alert
	if g.ActiveAt(at) {
		age := at.Sub(g.CreatedAt)
		if g.Kind == Secondary && age > cfg.SecondaryMaxAge {
			out = append(out, newAlert(LongLivedSecondary, g, at,
				"secondary grant %s has been active for %s, longer than %s: Bedrock retires a secondary when its job ends", g.ID, age, cfg.SecondaryMaxAge))
		}
		if g.Kind == DataAutomation && !slices.Contains(g.Operations, CreateGrant) && age > cfg.DataAutomationMaxAge {
			out = append(out, newAlert(LongLivedSecondary, g, at,
				"Data Automation grant %s has been active for %s, longer than %s: Bedrock Data Automation retires its invocation grants after 30h", g.ID, age, cfg.DataAutomationMaxAge))
		}
		if g.Kind == Secondary && parent != nil && !parent.EndedAt.IsZero() && at.Sub(parent.EndedAt) > cfg.OrphanGrace {
			out = append(out, newAlert(OrphanedSecondary, g, at,
				"secondary grant %s is still active although its primary grant %s was ended by %s at %s",
				g.ID, parent.ID, parent.EndedBy, parent.EndedAt.UTC().Format(time.RFC3339)))
		}
	}
	if g.Kind == Secondary {
		if slices.Contains(g.Operations, CreateGrant) {
			out = append(out, newAlert(ScopeEscalation, g, at,
				"secondary grant %s allows CreateGrant: a secondary may only use a subset of DescribeKey, GenerateDataKey, Decrypt", g.ID))
		} else if parent != nil && !subset(g.Operations, parent.Operations) {
			out = append(out, newAlert(ScopeEscalation, g, at,
				"secondary grant %s allows %v, more than its primary grant %s (%v)", g.ID, g.Operations, parent.ID, parent.Operations))
		}
	}
	if g.ThroughBedrock && g.Grantee != "" && !IsBedrock(g.Grantee) {
		out = append(out, newAlert(UnexpectedGrantee, g, at,
			"grant %s was created through Bedrock for grantee %q, which is not Bedrock", g.ID, g.Grantee))
	}
	if g.RetiringPrincipal == "" {
		out = append(out, newAlert(MissingRetiringPrincipal, g, at,
			"%s grant %s has no retiring principal: nobody but the key's account can retire it", g.Kind, g.ID))
	}
	return out
}

func subset(a, b []string) bool {
	for _, x := range a {
		if !slices.Contains(b, x) {
			return false
		}
	}
	return true
}
