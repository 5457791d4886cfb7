package alert_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"gopkg.in/yaml.v3"

	"github.com/grantwatch/grantwatch/pkg/alert"
	"github.com/grantwatch/grantwatch/pkg/lifecycle"
	"github.com/grantwatch/grantwatch/pkg/queryapi"
)

// TestAlertTypesEveryRenderer walks every row of the alert table (lifecycle.AlertSpecs) through every place that
// shows an alert: the message text, the JSON document, the SNS subject and attributes, the query API's wire type
// (pkg/queryapi) and enum (api/openapi.yaml), and the README's table of rules.
func TestAlertTypesEveryRenderer(t *testing.T) {
	specs := lifecycle.AlertSpecs()
	if len(specs) == 0 {
		t.Fatal("no alert types")
	}
	for _, spec := range specs {
		if spec.Why == "" || spec.Severity == "" || spec.Remedy == "" || (spec.Scope != lifecycle.GrantScope && spec.Scope != lifecycle.KeyScope) {
			t.Errorf("%s: incomplete row %+v", spec.Type, spec)
		}
		for _, kind := range []lifecycle.NoticeKind{lifecycle.NoticeAlert, lifecycle.NoticeReminder, lifecycle.NoticeResolved} {
			t.Run(string(spec.Type)+"/"+string(kind), func(t *testing.T) {
				n := specNotice(spec, kind)
				var published *sns.PublishInput
				err := alert.NewSNS(publishFunc(func(_ context.Context, in *sns.PublishInput, _ ...func(*sns.Options)) (*sns.PublishOutput, error) {
					published = in
					return &sns.PublishOutput{}, nil
				}), topic).Notify(context.Background(), n)
				if err != nil {
					t.Fatal(err)
				}
				m := alert.Render(n)
				checkSubject(t, spec, n, aws.ToString(published.Subject))
				checkText(t, spec, n, m)
				checkDocument(t, spec, n, m)
				for k, want := range map[string]string{"type": string(spec.Type), "severity": string(spec.Severity), "noticeId": n.ID(),
					"notice": string(kind), "keyArn": keyARN} {
					if got := aws.ToString(published.MessageAttributes[k].StringValue); got != want {
						t.Errorf("SNS attribute %s = %q; want %q", k, got, want)
					}
				}
				api := queryapi.NewAlert(n.Alert)
				if api.Type != string(spec.Type) || api.Severity != string(spec.Severity) || (api.GrantID == "") != (spec.Scope == lifecycle.KeyScope) {
					t.Errorf("queryapi.NewAlert = %+v; want type %s, severity %s, grant id only for grant alerts", api, spec.Type, spec.Severity)
				}
			})
		}
	}
	checkOpenAPI(t, specs)
	checkREADME(t, specs)
}

// specNotice is a notice of kind about an alert of spec's type, on a grant or on the key as its scope says.
func specNotice(spec lifecycle.AlertSpec, kind lifecycle.NoticeKind) lifecycle.Notice {
	a := lifecycle.Alert{Type: spec.Type, Severity: spec.Severity, KeyARN: keyARN, Message: "what the rule saw",
		RaisedAt: t0.Add(25 * time.Hour), NotifiedAt: t0.Add(25 * time.Hour), RemindedAt: t0.Add(49 * time.Hour)}
	n := lifecycle.Notice{Kind: kind, At: t0.Add(49 * time.Hour)}
	if spec.Scope == lifecycle.GrantScope {
		g := secondary()
		a.GrantID = g.ID
		if kind == lifecycle.NoticeResolved {
			g.EndedAt, g.EndedBy = t0.Add(50*time.Hour), lifecycle.RetireGrant
			a.ResolvedAt, a.Resolution = g.EndedAt, "retired after 50h0m0s"
		}
		g.Alerts = []lifecycle.Alert{a}
		n.Grant = g
	}
	n.Alert = a
	return n
}

func checkSubject(t *testing.T, spec lifecycle.AlertSpec, n lifecycle.Notice, s string) {
	t.Helper()
	lead := "[" + strings.ToUpper(string(spec.Severity)) + "] "
	if n.Kind == lifecycle.NoticeResolved {
		lead = "[RESOLVED] "
	}
	if !strings.HasPrefix(s, lead) || !strings.Contains(s, string(spec.Type)) || !strings.HasSuffix(s, " #"+n.ID()) || len(s) > alert.MaxSubject {
		t.Errorf("subject %q; want %q…%s… #%s within %d characters", s, lead, spec.Type, n.ID(), alert.MaxSubject)
	}
}

func checkText(t *testing.T, spec lifecycle.AlertSpec, n lifecycle.Notice, m alert.Message) {
	t.Helper()
	want := []string{string(spec.Type), "Notice " + n.ID(), keyARN}
	if n.Kind != lifecycle.NoticeResolved {
		want = append(want, "Why it matters", spec.Why, "What to do", m.Document.Remediation)
	}
	switch spec.Scope {
	case lifecycle.GrantScope:
		want = append(want, "grantwatch history "+grant, "Timeline (UTC)")
	case lifecycle.KeyScope:
		want = append(want, "aws kms list-grants --key-id "+keyARN)
	}
	for _, w := range want {
		if w == "" || !strings.Contains(m.Text, w) {
			t.Errorf("text lacks %q:\n%s", w, m.Text)
		}
	}
	if n.Kind == lifecycle.NoticeResolved && strings.Contains(m.Text, "What to do") {
		t.Errorf("a resolution says what to do:\n%s", m.Text)
	}
}

func checkDocument(t *testing.T, spec lifecycle.AlertSpec, n lifecycle.Notice, m alert.Message) {
	t.Helper()
	raw, err := m.JSON()
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"version": "1", "notice": string(n.Kind), "noticeId": n.ID(), "type": string(spec.Type),
		"severity": string(spec.Severity), "keyArn": keyARN, "account": "111122223333", "region": "us-east-1"}
	if spec.Scope == lifecycle.GrantScope {
		want["grantId"] = grant
		want["investigate"] = "grantwatch history " + grant
	} else {
		want["investigate"] = "aws kms list-grants --key-id " + keyARN
	}
	for k, v := range want {
		if doc[k] != v {
			t.Errorf("document %s = %v; want %v", k, doc[k], v)
		}
	}
	if rem, _ := doc["remediation"].(string); !strings.HasPrefix(rem, "aws kms ") {
		t.Errorf("document remediation = %q; want an aws kms command", rem)
	}
	g, hasGrant := doc["grant"].(map[string]any)
	switch {
	case spec.Scope == lifecycle.KeyScope && (hasGrant || doc["grantId"] != nil):
		t.Errorf("key alert document carries a grant: %s", raw)
	case spec.Scope == lifecycle.GrantScope && (!hasGrant || g["kind"] == nil || g["state"] == nil || g["timeline"] == nil):
		t.Errorf("grant alert document lacks the grant's kind, state or timeline: %s", raw)
	}
}

// checkOpenAPI: the API's Alert.type enum is the table's types, in its order; every severity is in its enum.
func checkOpenAPI(t *testing.T, specs []lifecycle.AlertSpec) {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "..", "api", "openapi.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Components struct {
			Schemas map[string]struct {
				Properties map[string]struct {
					Enum []string `yaml:"enum"`
				} `yaml:"properties"`
			} `yaml:"schemas"`
		} `yaml:"components"`
	}
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	props := doc.Components.Schemas["Alert"].Properties
	var types []string
	for _, s := range specs {
		types = append(types, string(s.Type))
		if !slices.Contains(props["severity"].Enum, string(s.Severity)) {
			t.Errorf("openapi Alert.severity enum %v lacks %s (%s)", props["severity"].Enum, s.Severity, s.Type)
		}
	}
	if got := props["type"].Enum; !slices.Equal(got, types) {
		t.Errorf("openapi Alert.type enum = %v; want the alert table's %v", got, types)
	}
}

// checkREADME: the README's table of rules has one row per type, with the table's severity.
func checkREADME(t *testing.T, specs []lifecycle.AlertSpec) {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	row := regexp.MustCompile(`(?m)^\| ([a-z-]+) \| (low|medium|high|critical) \|`)
	got := map[string]string{}
	for _, m := range row.FindAllStringSubmatch(string(raw), -1) {
		got[m[1]] = m[2]
	}
	for _, s := range specs {
		if got[string(s.Type)] != string(s.Severity) {
			t.Errorf("README alert table: %s is %q; want a row with severity %s", s.Type, got[string(s.Type)], s.Severity)
		}
	}
	if len(got) != len(specs) {
		t.Errorf("README alert table has %d rows %v; want one per type (%d)", len(got), got, len(specs))
	}
}
