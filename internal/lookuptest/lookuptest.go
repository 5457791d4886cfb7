// Package lookuptest is a local CloudTrail LookupEvents endpoint for tests and benchmarks (moto does not implement
// LookupEvents). It speaks the awsJson1.1 wire protocol the SDK uses (toolchain.md §5), enforces a request rate with
// a token bucket, answering ThrottlingException above it as CloudTrail does, waits a configurable latency, and
// serves the events it holds newest first, 50 a page at most, with inclusive StartTime/EndTime like the real API.
// Standard library only.
package lookuptest

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Targets are the X-Amz-Target values of LookupEvents: botocore sends the long form, the Go SDK (the serializers
// of cloudtrail v1.56.0) the short one.
var Targets = []string{"com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101.LookupEvents", "CloudTrail_20131101.LookupEvents"}

// Options configure a Server. Zero Rate means no limit.
type Options struct {
	Rate       float64       // requests per second admitted (CloudTrail: 2)
	Burst      int           // token bucket size; at least 1
	MinLatency time.Duration // each answered request waits a uniform random time in [MinLatency, MaxLatency]
	MaxLatency time.Duration
	Seed       uint64
}

// Event is one event the server holds.
type Event struct {
	ID     string
	Name   string
	Time   time.Time // whole seconds, as CloudTrail
	Record string    // the CloudTrail record JSON, served as the CloudTrailEvent string
}

// Stats count what the server did.
type Stats struct {
	Requests  int            // every request that reached the handler
	Throttled int            // answered ThrottlingException
	Pages     int            // answered with a page
	Served    map[string]int // times each event id was served
	// Signers counts requests by the access key id and Region of their SigV4 signature ("AKID region"): whose
	// credentials, for which Region, the client used. The signature itself is not checked.
	Signers map[string]int
	Denied  int // answered AccessDeniedException (Deny)
}

// Server is the fake endpoint. Close it when done.
type Server struct {
	URL  string
	srv  *httptest.Server
	opts Options

	mu     sync.Mutex
	deny   bool
	events map[string][]Event // by name, newest first
	tokens float64
	last   time.Time
	rng    *rand.Rand
	stats  Stats
}

// New starts a Server on 127.0.0.1.
func New(opts Options) *Server {
	if opts.Burst < 1 {
		opts.Burst = 1
	}
	s := &Server{opts: opts, events: map[string][]Event{}, tokens: float64(opts.Burst), last: time.Now(),
		rng: rand.New(rand.NewPCG(opts.Seed, opts.Seed+1)), stats: Stats{Served: map[string]int{}, Signers: map[string]int{}}}
	s.srv = httptest.NewServer(http.HandlerFunc(s.handle))
	s.URL = s.srv.URL
	return s
}

// Close stops the server.
func (s *Server) Close() { s.srv.Close() }

// Add makes events available.
func (s *Server) Add(evs ...Event) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, e := range evs {
		s.events[e.Name] = append(s.events[e.Name], e)
	}
	for name := range s.events {
		slices.SortStableFunc(s.events[name], func(a, b Event) int {
			if c := b.Time.Compare(a.Time); c != 0 {
				return c
			}
			return strings.Compare(a.ID, b.ID)
		})
	}
}

// Stats returns a copy of the counters.
func (s *Server) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.stats
	c.Served, c.Signers = maps.Clone(s.stats.Served), maps.Clone(s.stats.Signers)
	return c
}

// Deny makes the server answer every request from now on with AccessDeniedException, as CloudTrail does when the
// credentials may not call LookupEvents.
func (s *Server) Deny() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.deny = true
}

type request struct {
	LookupAttributes []struct{ AttributeKey, AttributeValue string }
	StartTime        *float64
	EndTime          *float64
	MaxResults       *int
	NextToken        *string
}

type event struct {
	EventID         string   `json:"EventId"`
	EventName       string   `json:"EventName"`
	ReadOnly        string   `json:"ReadOnly"`
	EventTime       float64  `json:"EventTime"`
	EventSource     string   `json:"EventSource"`
	Resources       []string `json:"Resources"`
	CloudTrailEvent string   `json:"CloudTrailEvent"`
}

func fail(w http.ResponseWriter, typ, msg string) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.WriteHeader(http.StatusBadRequest)
	fmt.Fprintf(w, `{"__type":%q,"message":%q}`, typ, msg)
}

// admit takes a token from the bucket, or reports false.
func (s *Server) admit(now time.Time) bool {
	s.stats.Requests++
	if s.opts.Rate <= 0 {
		return true
	}
	s.tokens = math.Min(float64(s.opts.Burst), s.tokens+now.Sub(s.last).Seconds()*s.opts.Rate)
	s.last = now
	if s.tokens < 1 {
		s.stats.Throttled++
		return false
	}
	s.tokens--
	return true
}

func (s *Server) handle(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || !slices.Contains(Targets, r.Header.Get("X-Amz-Target")) {
		fail(w, "UnknownOperationException", "only LookupEvents is served")
		return
	}
	var in request
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
		fail(w, "SerializationException", err.Error())
		return
	}
	s.mu.Lock()
	ok := s.admit(time.Now())
	delay := s.opts.MinLatency
	if d := s.opts.MaxLatency - s.opts.MinLatency; d > 0 {
		delay += time.Duration(s.rng.Int64N(int64(d)))
	}
	if key, region := Signer(r); key != "" {
		s.stats.Signers[key+" "+region]++
	}
	deny := s.deny
	if deny {
		s.stats.Denied++
	}
	s.mu.Unlock()
	if deny {
		fail(w, "AccessDeniedException", "User is not authorized to perform: cloudtrail:LookupEvents")
		return
	}
	if !ok {
		fail(w, "ThrottlingException", "Rate exceeded")
		return
	}
	if len(in.LookupAttributes) != 1 || in.LookupAttributes[0].AttributeKey != "EventName" {
		fail(w, "InvalidLookupAttributesException", "exactly one EventName lookup attribute is supported")
		return
	}
	name := in.LookupAttributes[0].AttributeValue
	start, end := time.Time{}, time.Now().Add(time.Hour)
	if in.StartTime != nil {
		start = fromEpoch(*in.StartTime)
	}
	if in.EndTime != nil {
		end = fromEpoch(*in.EndTime)
	}
	limit := 50
	if in.MaxResults != nil && *in.MaxResults > 0 && *in.MaxResults < 50 {
		limit = *in.MaxResults
	}
	query := fmt.Sprintf("%s|%d|%d", name, start.Unix(), end.Unix())
	offset := 0
	if in.NextToken != nil {
		raw, err := base64.RawURLEncoding.DecodeString(*in.NextToken)
		q, off, found := strings.Cut(string(raw), "@")
		n, convErr := strconv.Atoi(off)
		if err != nil || !found || q != query || convErr != nil {
			fail(w, "InvalidNextTokenException", "invalid NextToken")
			return
		}
		offset = n
	}
	select {
	case <-time.After(delay):
	case <-r.Context().Done():
		return
	}
	s.mu.Lock()
	var match []Event
	for _, e := range s.events[name] {
		if !e.Time.Before(start) && !e.Time.After(end) {
			match = append(match, e)
		}
	}
	out := struct {
		Events    []event `json:"Events"`
		NextToken string  `json:"NextToken,omitempty"`
	}{Events: []event{}}
	for i := offset; i < len(match) && i < offset+limit; i++ {
		e := match[i]
		out.Events = append(out.Events, event{EventID: e.ID, EventName: e.Name, ReadOnly: "false", EventTime: float64(e.Time.Unix()),
			EventSource: "kms.amazonaws.com", Resources: []string{}, CloudTrailEvent: e.Record})
		s.stats.Served[e.ID]++
	}
	if offset+limit < len(match) {
		out.NextToken = base64.RawURLEncoding.EncodeToString(fmt.Appendf(nil, "%s@%d", query, offset+limit))
	}
	s.stats.Pages++
	s.mu.Unlock()
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	_ = json.NewEncoder(w).Encode(out)
}

func fromEpoch(f float64) time.Time {
	sec, frac := math.Modf(f)
	return time.Unix(int64(sec), int64(frac*1e9)).UTC()
}

// GrantEvents returns a synthetic grant history for n Bedrock secondaries spread over [since, until): each is
// created by the Bedrock service and, for retired of every 100, retired by it (every 5th of the rest is revoked by
// it). Keys rotate over keys key ARNs of account 111122223333 in us-east-1. Event ids are unique.
func GrantEvents(n, retired, keys int, since, until time.Time) []Event {
	return GrantEventsIn("111122223333", "us-east-1", "", n, retired, keys, since, until)
}

// GrantEventsIn is GrantEvents in another account and Region, with grant and event ids that begin with prefix, so
// that the histories of several accounts are told apart. GrantEvents is GrantEventsIn with no prefix.
func GrantEventsIn(account, region, prefix string, n, retired, keys int, since, until time.Time) []Event {
	span := until.Sub(since) / time.Second
	var out []Event
	for i := range n {
		key := fmt.Sprintf("arn:aws:kms:%s:%s:key/1234abcd-12ab-34cd-56ef-%012d", region, account, i%keys)
		grant := fmt.Sprintf("%s%0*x", prefix, 64-len(prefix), i+1)
		created := since.Add(time.Duration(int64(span)*int64(i)/int64(n)) * time.Second)
		p := place{account, region}
		out = append(out, p.record("CreateGrant", fmt.Sprintf("%sc-%08d", prefix, i), key, grant, created))
		ended := created.Add(time.Duration(i%7+1) * time.Minute)
		switch {
		case !ended.Before(until):
		case i%100 < retired:
			out = append(out, p.record("RetireGrant", fmt.Sprintf("%sr-%08d", prefix, i), key, grant, ended))
		case i%5 == 0:
			out = append(out, p.record("RevokeGrant", fmt.Sprintf("%sv-%08d", prefix, i), key, grant, ended))
		}
	}
	return out
}

// Signer returns the access key id and Region a SigV4-signed request was signed with, from its Authorization
// header ("AWS4-HMAC-SHA256 Credential=AKID/20261123/us-east-1/cloudtrail/aws4_request, ..."); empty when unsigned.
// The signature itself is not checked.
func Signer(r *http.Request) (accessKey, region string) {
	_, cred, _ := strings.Cut(r.Header.Get("Authorization"), "Credential=")
	parts := strings.Split(strings.SplitN(cred, ",", 2)[0], "/")
	if len(parts) < 3 {
		return "", ""
	}
	return parts[0], parts[2]
}

// GrantRecord is one CloudTrail record of a Bedrock grant call (CreateGrant, RetireGrant or RevokeGrant) on key, in
// the account and Region its ARN names, as GrantEvents makes them.
func GrantRecord(name, id, key, grant string, t time.Time) Event {
	parts := strings.Split(key, ":") // arn:aws:kms:REGION:ACCOUNT:key/ID
	if len(parts) < 6 {
		panic("lookuptest: not a key ARN: " + key)
	}
	return place{account: parts[4], region: parts[3]}.record(name, id, key, grant, t)
}

// place is the account and Region a record is from.
type place struct{ account, region string }

func (p place) record(name, id, key, grant string, t time.Time) Event {
	rec := map[string]any{
		"eventVersion": "1.09", "userIdentity": map[string]any{"type": "AWSService", "invokedBy": "bedrock.amazonaws.com"},
		"eventTime": t.UTC().Format(time.RFC3339), "eventSource": "kms.amazonaws.com", "eventName": name, "awsRegion": p.region,
		"sourceIPAddress": "bedrock.amazonaws.com", "userAgent": "bedrock.amazonaws.com", "requestID": "req-" + id, "eventID": id,
		"readOnly": false, "recipientAccountId": p.account, "eventType": "AwsApiCall", "managementEvent": true,
		"resources": []any{map[string]any{"accountId": p.account, "type": "AWS::KMS::Key", "ARN": key}},
	}
	switch name {
	case "CreateGrant":
		rec["requestParameters"] = map[string]any{"granteePrincipal": "bedrock.amazonaws.com", "retiringPrincipal": "bedrock.amazonaws.com",
			"keyId": key, "operations": []string{"Decrypt", "GenerateDataKey", "DescribeKey"}}
		rec["responseElements"] = map[string]any{"grantId": grant, "keyId": key}
	case "RetireGrant":
		rec["responseElements"] = map[string]any{"keyId": key}
		rec["additionalEventData"] = map[string]any{"grantId": grant}
	case "RevokeGrant":
		rec["requestParameters"] = map[string]any{"keyId": key, "grantId": grant}
	}
	b, _ := json.Marshal(rec)
	return Event{ID: id, Name: name, Time: t.UTC().Truncate(time.Second), Record: string(b)}
}
