package trail_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/grantwatch/grantwatch/internal/trailgen"
	"github.com/grantwatch/grantwatch/pkg/trail"
)

func readAll(t *testing.T, source string, data []byte) []trail.Item {
	t.Helper()
	var items []trail.Item
	if err := trail.Read(context.Background(), source, bytes.NewReader(data), func(it trail.Item) error {
		items = append(items, it)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return items
}

// classes renders items as "source class" lines, with the error for rejected ones.
func classes(items []trail.Item) string {
	var b strings.Builder
	for _, it := range items {
		fmt.Fprintf(&b, "%s %s", it.Source, it.Decision.Class)
		if it.Decision.Class == trail.Rejected {
			fmt.Fprintf(&b, " (%v)", it.Decision.Err)
		}
		b.WriteString("\n")
	}
	return b.String()
}

// cwlPayload is a CloudWatch Logs subscription payload in the shape AWS documents (the Lambda developer guide's
// sample, decoded), whose messages are the given CloudTrail records, as a trail delivering to CloudWatch Logs writes.
func cwlPayload(tb testing.TB, messageType string, records ...string) []byte {
	tb.Helper()
	var events []map[string]any
	for i, r := range records {
		events = append(events, map[string]any{"id": fmt.Sprintf("eventId%d", i+1), "timestamp": 1440442987000 + i, "message": r})
	}
	b, err := json.Marshal(map[string]any{"messageType": messageType, "owner": "111122223333", "logGroup": "CloudTrail/logs",
		"logStream": "111122223333_CloudTrail_us-east-1", "subscriptionFilters": []string{"Destination"}, "logEvents": events})
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// awslogs wraps a payload the way Lambda receives it: gzip, then base64, in {"awslogs": {"data": ...}}.
func awslogs(tb testing.TB, payload []byte) []byte {
	return []byte(`{"awslogs": {"data": "` + base64.StdEncoding.EncodeToString(trailgen.Gzip(payload)) + `"}}`)
}

func TestReadShapes(t *testing.T) {
	records := `{"Records": [` + compact(t, revokeSample) + `,` + compact(t, retireSample) + `]}`
	insight := `{"eventVersion":"1.08","eventTime":"2024-05-31T00:00:00Z","awsRegion":"us-east-1","eventID":"i1",` +
		`"eventType":"AwsCloudTrailInsight","insightDetails":{"state":"Start","eventSource":"kms.amazonaws.com","eventName":"CreateGrant"}}`
	// The AWS Lambda developer guide's sample CloudWatch Logs event: two log events that are no CloudTrail records.
	const lambdaSample = `{"awslogs": {"data": "H4sIAAAAAAAAAHWPwQqCQBCGX0Xm7EFtK+smZBEUgXoLCdMhFtKV3akI8d0bLYmibvPPN3wz00CJxmQnTO41whwWQRIctmEcB6sQbFC3CjW3XW8kxpOpP+OC22d1Wml1qZkQGtoMsScxaczKN3plG8zlaHIta5KqWsozoTYw3/djzwhpLwivWFGHGpAFe7DL68JlBUk+l7KSN7tCOEJ4M3/qOI49vMHj+zCKdlFqLaU2ZHV2a4Ct/an0/ivdX8oYc1UVX860fQDQiMdxRQEAAA=="}}`
	tests := []struct {
		name string
		data []byte
		want string
	}{
		{"gzipped log file, by content", trailgen.Gzip([]byte(records)), "f#0 kms-event\nf#1 kms-event\n"},
		{"gzipped JSON Lines", trailgen.Gzip([]byte(compact(t, revokeSample) + "\n" + compact(t, decryptSample) + "\n")), "f#0 kms-event\nf#1 kms-event\n"},
		{"log files concatenated, as zcat writes them", []byte(records + records), "f#0 kms-event\nf#1 kms-event\nf#2 kms-event\nf#3 kms-event\n"},
		{"Insights records are ignored", []byte(`{"Records": [` + insight + `,` + compact(t, revokeSample) + `]}`), "f#0 ignored\nf#1 kms-event\n"},
		{"CloudWatch Logs payload", cwlPayload(t, "DATA_MESSAGE", compact(t, revokeSample), s3EnvelopeDetail(t)), "f#0 kms-event\nf#1 ignored\n"},
		{"CloudWatch Logs control message", cwlPayload(t, "CONTROL_MESSAGE", "CWL CONTROL MESSAGE: Checking health of destination Firehose."), "f ignored\n"},
		{"CloudWatch Logs event as Lambda receives it", awslogs(t, cwlPayload(t, "DATA_MESSAGE", compact(t, revokeSample), compact(t, retireSample))), "f#0 kms-event\nf#1 kms-event\n"},
		{
			"AWS sample CloudWatch Logs event: its messages are no records", []byte(lambdaSample),
			"f#0 rejected (trail: f#0: CloudWatch Logs event eventId1: message is not JSON: jsontext: invalid character 'E' at start of value within \"/0\" after offset 1)\n" +
				"f#1 rejected (trail: f#1: CloudWatch Logs event eventId2: message is not JSON: jsontext: invalid character 'E' at start of value within \"/0\" after offset 1)\n",
		},
		{"awslogs data that is not base64", []byte(`{"awslogs": {"data": "%%%"}}`), "f rejected (trail: f: CloudWatch Logs subscription event: undecodable awslogs.data: illegal base64 data at input byte 0)\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := classes(readAll(t, "f", tt.data)); got != tt.want {
				t.Errorf("Read() =\n%s\nwant\n%s", got, tt.want)
			}
		})
	}
}

// s3EnvelopeDetail is the CloudTrail record of the S3 EventBridge sample, on one line.
func s3EnvelopeDetail(tb testing.TB) string {
	var env struct{ Detail json.RawMessage }
	if err := json.Unmarshal(readSample(tb, s3EnvelopeSample), &env); err != nil {
		tb.Fatal(err)
	}
	var b bytes.Buffer
	if err := json.Compact(&b, env.Detail); err != nil {
		tb.Fatal(err)
	}
	return b.String()
}

// logFile returns a CloudTrail log file of n records (RevokeGrant samples with distinct eventIDs).
func logFile(tb testing.TB, n int) []byte {
	rec := compact(tb, revokeSample)
	var b bytes.Buffer
	b.WriteString(`{"Records":[`)
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strings.Replace(rec, revokeEvent.ID, fmt.Sprintf("%08d-6526-4ae2-b31e-d35fbe9e24ee", i), 1))
	}
	b.WriteString(`]}`)
	return b.Bytes()
}

func TestReadKeepsOrder(t *testing.T) {
	items := readAll(t, "f", logFile(t, 3000)) // several batches, decoded on every worker
	if len(items) != 3000 {
		t.Fatalf("Read() gave %d items; want 3000", len(items))
	}
	for i, it := range items {
		if want := fmt.Sprintf("%08d-6526-4ae2-b31e-d35fbe9e24ee", i); it.Decision.Event.ID != want || it.Source != fmt.Sprintf("f#%d", i) {
			t.Fatalf("item %d = %s %q; want f#%d %q", i, it.Source, it.Decision.Event.ID, i, want)
		}
	}
}

// TestReadStreams: records are handed out while the input is still being written, not after it was read whole.
func TestReadStreams(t *testing.T) {
	pr, pw := io.Pipe()
	first := make(chan struct{})
	go func() {
		rec := compact(t, revokeSample)
		fmt.Fprintf(pw, `{"Records":[%s`, rec)
		for range 300 { // a full batch, then wait until something was applied
			fmt.Fprintf(pw, `,%s`, rec)
		}
		select {
		case <-first:
			fmt.Fprintf(pw, `,%s]}`, rec)
			pw.Close()
		case <-time.After(10 * time.Second):
			pw.CloseWithError(errors.New("no record was applied before the input ended"))
		}
	}()
	n := 0
	err := trail.Read(context.Background(), "pipe", pr, func(it trail.Item) error {
		if n == 0 {
			close(first)
		}
		n++
		if it.Decision.Class != trail.KMSEvent {
			return fmt.Errorf("%s: %v", it.Source, it.Decision.Err)
		}
		return nil
	})
	if err != nil || n != 302 {
		t.Fatalf("Read() = %v after %d items; want 302 items", err, n)
	}
}

func TestReadStopsOnYieldError(t *testing.T) {
	stop := errors.New("store down")
	n := 0
	err := trail.Read(context.Background(), "f", bytes.NewReader(logFile(t, 2000)), func(trail.Item) error {
		n++
		if n == 10 {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) || n != 10 {
		t.Fatalf("Read() = %v after %d items; want the yield error after 10", err, n)
	}
}

// TestReadDamage: a damaged file loses only what cannot be recovered, and the error names the file and the offset.
func TestReadDamage(t *testing.T) {
	whole := logFile(t, 50)
	third := bytes.Index(whole, []byte(`{"eventVersion"`)) // the third record starts here
	for range 2 {
		third += 1 + bytes.Index(whole[third+1:], []byte(`{"eventVersion"`))
	}
	gz := trailgen.Gzip(logFile(t, 3000)) // many deflate blocks: a cut stream still yields its first ones
	tests := []struct {
		name     string
		data     []byte
		good     int    // records applied before the damage
		errPart  string // in the rejection
		rejected int
	}{
		{"truncated log file", whole[:third+100], 2, "the file is truncated", 1},
		{"corrupt record in the middle", append(append(bytes.Clone(whole[:third]), '#'), whole[third+1:]...), 2, fmt.Sprintf("invalid JSON at byte %d (line 1, in /Records/2)", third), 1},
		{"truncated gzip", gz[:len(gz)/2], -1, "unreadable input at byte", 1},
		{"gzip with a bad checksum", append(bytes.Clone(gz[:len(gz)-8]), 0, 0, 0, 0, 0, 0, 0, 0), 3000, "unreadable input", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			items := readAll(t, "logs/f.json.gz", tt.data)
			good, rejected := 0, 0
			for _, it := range items {
				switch it.Decision.Class {
				case trail.KMSEvent:
					if rejected > 0 {
						t.Errorf("%s applied after the damage", it.Source)
					}
					good++
				case trail.Rejected:
					rejected++
					if msg := it.Decision.Err.Error(); !strings.Contains(msg, tt.errPart) || !strings.Contains(msg, "logs/f.json.gz") {
						t.Errorf("rejection %q; want it to name the file and contain %q", msg, tt.errPart)
					}
				}
			}
			if tt.good >= 0 && good != tt.good || tt.good < 0 && good == 0 || rejected != tt.rejected {
				t.Errorf("Read() applied %d and rejected %d; want %d and %d:\n%s", good, rejected, tt.good, tt.rejected, classes(items))
			}
		})
	}
}

// TestReadMemoryIsFlat streams a 96 MB log file, generated as it is read, and checks that the heap never holds
// a large part of it: records are decoded and handed out as they are read (BENCHMARKS.md has the RSS of 50 MB to
// 1 GB files through the CLI).
func TestReadMemoryIsFlat(t *testing.T) {
	const size, limit = 96 << 20, 40 << 20
	var peak uint64
	var ms runtime.MemStats
	n := 0
	err := trail.Read(context.Background(), "big.json", trailgen.Reader(size, 5), func(it trail.Item) error {
		if n++; n%2048 == 0 {
			runtime.ReadMemStats(&ms)
			peak = max(peak, ms.HeapInuse)
		}
		if it.Decision.Class == trail.Rejected {
			return it.Decision.Err
		}
		return nil
	})
	if err != nil || n < 50000 {
		t.Fatalf("Read() = %v after %d records", err, n)
	}
	if peak > limit {
		t.Errorf("heap in use peaked at %d MB reading a %d MB file; want under %d MB", peak>>20, size>>20, limit>>20)
	}
	t.Logf("%d records, heap in use peaked at %.1f MB", n, float64(peak)/(1<<20))
}
