package queryapi_test

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/grantwatch/grantwatch/pkg/app"
	"github.com/grantwatch/grantwatch/pkg/lifecycle"
	"github.com/grantwatch/grantwatch/pkg/queryapi"
)

// full returns a grant with every field set, so that a field the mapping forgets shows up as zero.
func full() lifecycle.Grant {
	at := t0.In(time.FixedZone("UTC+2", 2*3600))
	a := lifecycle.Alert{Type: lifecycle.LongLivedSecondary, Severity: lifecycle.High, GrantID: "g1", KeyARN: key01, Message: "m",
		RaisedAt: at, NotifiedAt: at, RemindedAt: at, ResolvedAt: at, Resolution: "retired", ResolutionNotifiedAt: at}
	return lifecycle.Grant{ID: "g1", KeyARN: key01, Kind: lifecycle.Secondary, CreatedAt: at, CreateEventID: "e1",
		CreatedBy: lifecycle.Caller{Type: "AWSService", ARN: "arn:aws:iam::111122223333:role/r", AccountID: "111122223333", InvokedBy: "bedrock.amazonaws.com"},
		Grantee:   "bedrock.amazonaws.com", RetiringPrincipal: "bedrock.amazonaws.com", Operations: []string{"Decrypt"}, ConstraintKeys: []string{"k"},
		Name: "n", ThroughBedrock: true, ParentID: "g0", EndedAt: at, EndedBy: lifecycle.RetireGrant, EndEventID: "e2", EndedByBedrock: true,
		History: []lifecycle.HistoryEntry{{EventID: "e1", Name: lifecycle.CreateGrant, Time: at, Caller: "c", SourceIP: "ip", RequestID: "r"}},
		Alerts:  []lifecycle.Alert{a}}
}

// zeros lists the fields of v (recursively) that are zero.
func zeros(v reflect.Value, path string) []string {
	if v.Type() == reflect.TypeFor[time.Time]() {
		if v.Interface().(time.Time).IsZero() {
			return []string{path}
		}
		return nil
	}
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			return []string{path}
		}
		return zeros(v.Elem(), path)
	case reflect.Struct:
		var out []string
		for i := range v.NumField() {
			out = append(out, zeros(v.Field(i), path+"."+v.Type().Field(i).Name)...)
		}
		return out
	case reflect.Slice, reflect.Map:
		if v.Len() == 0 {
			return []string{path}
		}
		if v.Kind() == reflect.Slice {
			return zeros(v.Index(0), path+"[0]")
		}
		return nil
	}
	if v.IsZero() {
		return []string{path}
	}
	return nil
}

func TestMappingFillsEveryField(t *testing.T) {
	g := full()
	parent := g
	parent.ID = "g0"
	u := lifecycle.Usage{Calls: map[string]int64{lifecycle.Decrypt: 2}, LastUsedAt: t0, LastUsedBy: "b", Alerts: g.Alerts}
	h := app.GrantHistory{Grant: g, Parent: &parent, Children: []lifecycle.Grant{g}, Usage: u,
		Created:  &app.Creation{At: t0, By: "b", CallerType: "AWSService", InvokedBy: "bedrock.amazonaws.com", SourceIP: "ip", EventID: "e1"},
		Ended:    &app.Ending{At: t0, How: lifecycle.RetireGrant, By: "b", SourceIP: "ip", ByBedrock: true, EventID: "e2"},
		Timeline: []app.TimelineEntry{{At: t0, What: "CreateGrant", By: "b", SourceIP: "ip", Detail: "d"}}}
	keys := []app.KeySummary{{KeyARN: key01, Account: "111122223333", Region: "us-east-1", Grants: map[lifecycle.Kind]map[lifecycle.State]int{lifecycle.Secondary: {lifecycle.Active: 1}},
		Active: 1, Total: 1, OldestActiveSecondary: &g, QuotaShare: 0.5}}
	for name, v := range map[string]any{
		"GrantHistory": queryapi.NewGrantHistory(h),
		"GrantList":    queryapi.NewGrantList([]lifecycle.Grant{g}, "next"),
		"KeyList":      queryapi.NewKeyList(keys, map[string]string{"111122223333": "prod-ml"}),
	} {
		if z := zeros(reflect.ValueOf(v), name); len(z) > 0 {
			t.Errorf("%s: fields left zero by the mapping: %v", name, z)
		}
	}
	// Times are UTC on the wire, whatever zone the domain holds them in.
	b, _ := json.Marshal(queryapi.NewGrantHistory(h))
	if strings.Contains(string(b), "+02:00") {
		t.Errorf("history JSON carries a non-UTC time: %s", b)
	}
}

// TestEmptyIsNotNull: what the document declares always present prints as [] or {}, never null.
func TestEmptyIsNotNull(t *testing.T) {
	g := lifecycle.Grant{ID: "g1", KeyARN: key01, Kind: lifecycle.Primary}
	for _, v := range []any{
		queryapi.NewGrantList(nil, ""),
		queryapi.NewGrantHistory(app.GrantHistory{Grant: g}),
		queryapi.NewKeyList(nil, nil),
	} {
		b, _ := json.Marshal(v)
		if strings.Contains(string(b), "null") {
			t.Errorf("%s has a null", b)
		}
	}
}
