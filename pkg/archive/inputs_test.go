package archive_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/grantwatch/grantwatch/pkg/archive"
	"github.com/grantwatch/grantwatch/pkg/trail"
)

// slowGets is an archive.API whose GetObject takes delay (or until its context ends) and records how many run at
// once.
type slowGets struct {
	s3.ListObjectsV2APIClient
	delay          time.Duration
	mu             sync.Mutex
	inFlight, most int
}

func (g *slowGets) GetObject(ctx context.Context, in *s3.GetObjectInput, _ ...func(*s3.Options)) (*s3.GetObjectOutput, error) {
	g.mu.Lock()
	g.inFlight++
	g.most = max(g.most, g.inFlight)
	g.mu.Unlock()
	defer func() {
		g.mu.Lock()
		g.inFlight--
		g.mu.Unlock()
	}()
	select {
	case <-time.After(g.delay):
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return &s3.GetObjectOutput{Body: io.NopCloser(bytes.NewReader([]byte(aws.ToString(in.Key))))}, nil
}

// TestInputsDownloadAheadInOrder: downloads run in parallel, never more than Parallel at once, and the inputs come
// in key order with their own bodies.
func TestInputsDownloadAheadInOrder(t *testing.T) {
	api := &slowGets{delay: 5 * time.Millisecond}
	a := archive.New(api, "b", "", trail.ArchiveFilter{})
	a.Parallel = 3
	var objects []archive.Object
	for i := range 30 {
		objects = append(objects, archive.Object{Key: fmt.Sprintf("k%02d.json", i), Size: 7})
	}
	i := 0
	for in := range a.Inputs(context.Background(), objects) {
		body, err := in.Open(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		data, _ := io.ReadAll(body)
		if want := fmt.Sprintf("k%02d.json", i); in.Name != "s3://b/"+want || string(data) != want {
			t.Fatalf("input %d = %s holding %q; want s3://b/%s holding its key", i, in.Name, data, want)
		}
		i++
	}
	if i != len(objects) {
		t.Fatalf("got %d inputs; want %d", i, len(objects))
	}
	if api.most > 3 || api.most < 2 {
		t.Errorf("at most %d downloads ran at once; want 2 or 3 (Parallel 3)", api.most)
	}
}

// TestInputsStopEarly: breaking out of the iteration stops the downloads (which would otherwise run for a minute).
func TestInputsStopEarly(t *testing.T) {
	api := &slowGets{delay: time.Minute}
	a := archive.New(api, "b", "", trail.ArchiveFilter{})
	objects := make([]archive.Object, 100)
	for i := range objects {
		objects[i] = archive.Object{Key: fmt.Sprintf("k%03d.json", 1+i), Size: 1}
	}
	// The first object is larger than anything fetched ahead: it is opened at its turn, while the others download.
	objects[0] = archive.Object{Key: "k000.json", Size: 1 << 30}
	for range a.Inputs(context.Background(), objects) {
		for range 200 { // until downloads ahead have started
			api.mu.Lock()
			started := api.most >= 2
			api.mu.Unlock()
			if started {
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
		break
	}
	// The downloads see their context cancelled; give them a bounded while to return.
	for range 200 {
		api.mu.Lock()
		n := api.inFlight
		api.mu.Unlock()
		if n == 0 {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Error("downloads still running 2 s after the iteration stopped")
}
