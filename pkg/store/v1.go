package store

// Format 1: what grantwatch wrote before format 2 (items.go). Its items were the domain types marshalled under their
// JSON names, with no fv attribute: a key's every grant under GRANT#<id> (ended ones too), its usage under USAGE, and
// no meta record. These types decode them for queries and for the migration (migrate.go); nothing writes them.

import (
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/grantwatch/grantwatch/pkg/lifecycle"
)

type v1Caller struct {
	Type      string `dynamodbav:"type"`
	ARN       string `dynamodbav:"arn"`
	AccountID string `dynamodbav:"accountId"`
	InvokedBy string `dynamodbav:"invokedBy"`
}

type v1History struct {
	EventID   string    `dynamodbav:"eventId"`
	Name      string    `dynamodbav:"eventName"`
	Time      time.Time `dynamodbav:"eventTime"`
	Caller    string    `dynamodbav:"caller"`
	SourceIP  string    `dynamodbav:"sourceIp"`
	RequestID string    `dynamodbav:"requestId"`
}

type v1Alert struct {
	Type                 string    `dynamodbav:"type"`
	Severity             string    `dynamodbav:"severity"`
	GrantID              string    `dynamodbav:"grantId"`
	KeyARN               string    `dynamodbav:"keyArn"`
	Message              string    `dynamodbav:"message"`
	RaisedAt             time.Time `dynamodbav:"raisedAt"`
	NotifiedAt           time.Time `dynamodbav:"notifiedAt"`
	RemindedAt           time.Time `dynamodbav:"remindedAt"`
	ResolvedAt           time.Time `dynamodbav:"resolvedAt"`
	Resolution           string    `dynamodbav:"resolution"`
	ResolutionNotifiedAt time.Time `dynamodbav:"resolutionNotifiedAt"`
}

type v1Grant struct {
	ID                string      `dynamodbav:"grantId"`
	KeyARN            string      `dynamodbav:"keyArn"`
	Kind              string      `dynamodbav:"kind"`
	CreatedAt         time.Time   `dynamodbav:"createdAt"`
	CreateEventID     string      `dynamodbav:"createEventId"`
	CreatedBy         v1Caller    `dynamodbav:"createdBy"`
	Grantee           string      `dynamodbav:"grantee"`
	RetiringPrincipal string      `dynamodbav:"retiringPrincipal"`
	Operations        []string    `dynamodbav:"operations"`
	ConstraintKeys    []string    `dynamodbav:"constraintKeys"`
	Name              string      `dynamodbav:"name"`
	ThroughBedrock    bool        `dynamodbav:"throughBedrock"`
	ParentID          string      `dynamodbav:"parentGrantId"`
	EndedAt           time.Time   `dynamodbav:"endedAt"`
	EndedBy           string      `dynamodbav:"endedBy"`
	EndEventID        string      `dynamodbav:"endEventId"`
	EndedByBedrock    bool        `dynamodbav:"endedByBedrock"`
	Pending           bool        `dynamodbav:"pending"`
	History           []v1History `dynamodbav:"history"`
	Alerts            []v1Alert   `dynamodbav:"alerts"`
	Version           int64       `dynamodbav:"version"`
}

type v1Usage struct {
	Calls             map[string]int64 `dynamodbav:"calls"`
	LastUsedAt        time.Time        `dynamodbav:"lastUsedAt"`
	LastUsedBy        string           `dynamodbav:"lastUsedBy"`
	FirstServiceUseAt time.Time        `dynamodbav:"firstServiceUseAt"`
	LastServiceUseAt  time.Time        `dynamodbav:"lastServiceUseAt"`
	RecentEventIDs    []string         `dynamodbav:"recentEventIds"`
	Alerts            []v1Alert        `dynamodbav:"alerts"`
	UncheckedUses     []time.Time      `dynamodbav:"uncheckedUses"`
	Version           int64            `dynamodbav:"version"`
}

func (a v1Alert) alert() lifecycle.Alert {
	return lifecycle.Alert{Type: lifecycle.AlertType(a.Type), Severity: lifecycle.Severity(a.Severity), GrantID: a.GrantID,
		KeyARN: a.KeyARN, Message: a.Message, RaisedAt: a.RaisedAt, NotifiedAt: a.NotifiedAt, RemindedAt: a.RemindedAt,
		ResolvedAt: a.ResolvedAt, Resolution: a.Resolution, ResolutionNotifiedAt: a.ResolutionNotifiedAt}
}

func decodeV1Grant(item map[string]types.AttributeValue) (lifecycle.Grant, error) {
	var v v1Grant
	if err := unmarshalItem(item, &v); err != nil {
		return lifecycle.Grant{}, fmt.Errorf("format 1 grant item %s: %w", stringAttr(item, "sk"), err)
	}
	g := lifecycle.Grant{ID: v.ID, KeyARN: v.KeyARN, Kind: lifecycle.Kind(v.Kind), CreatedAt: v.CreatedAt,
		CreateEventID: v.CreateEventID, CreatedBy: lifecycle.Caller(v.CreatedBy), Grantee: v.Grantee,
		RetiringPrincipal: v.RetiringPrincipal, Operations: v.Operations, ConstraintKeys: v.ConstraintKeys, Name: v.Name,
		ThroughBedrock: v.ThroughBedrock, ParentID: v.ParentID, EndedAt: v.EndedAt, EndedBy: v.EndedBy,
		EndEventID: v.EndEventID, EndedByBedrock: v.EndedByBedrock, Pending: v.Pending, Version: v.Version}
	for _, h := range v.History {
		g.History = append(g.History, lifecycle.HistoryEntry(h))
	}
	for _, a := range v.Alerts {
		g.Alerts = append(g.Alerts, a.alert())
	}
	return g, nil
}

func decodeV1Usage(item map[string]types.AttributeValue) (lifecycle.Usage, error) {
	var v v1Usage
	if err := unmarshalItem(item, &v); err != nil {
		return lifecycle.Usage{}, fmt.Errorf("format 1 usage item: %w", err)
	}
	u := lifecycle.Usage{Calls: v.Calls, LastUsedAt: v.LastUsedAt, LastUsedBy: v.LastUsedBy,
		FirstServiceUseAt: v.FirstServiceUseAt, LastServiceUseAt: v.LastServiceUseAt, RecentEventIDs: v.RecentEventIDs,
		UncheckedUses: v.UncheckedUses, Version: v.Version}
	for _, a := range v.Alerts {
		u.Alerts = append(u.Alerts, a.alert())
	}
	return u, nil
}
