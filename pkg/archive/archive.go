// Package archive reads a trail's CloudTrail archive in S3 for replay: the S3 adapter. It lists the archive
// following CloudTrail's layout (trail.ArchiveFile), so that the account, Region and date filters prune whole
// folders instead of listing them, and downloads the objects to read a few at a time ahead of the replay, which
// applies them in key order.
package archive

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"golang.org/x/sync/semaphore"

	"github.com/grantwatch/grantwatch/pkg/replay"
	"github.com/grantwatch/grantwatch/pkg/trail"
)

// API is the part of *s3.Client the archive uses.
type API interface {
	s3.ListObjectsV2APIClient
	GetObject(ctx context.Context, in *s3.GetObjectInput, optFns ...func(*s3.Options)) (*s3.GetObjectOutput, error)
}

var _ API = (*s3.Client)(nil)

// Defaults: downloads in flight, the bytes they may hold in memory together, and the largest object held ahead of
// its turn (a larger one is streamed when its turn comes; CloudTrail's gzipped log files are far smaller).
const (
	DefaultParallel = 8
	prefetchBudget  = 64 << 20
	maxPrefetch     = 16 << 20
	maxPrefixDepth  = 4 // folders searched above AWSLogs/ when the URL stops short of it
)

// ErrBadURL means an s3:// argument is not one.
var ErrBadURL = errors.New("not an s3://bucket/prefix URL")

// ParseURL splits s3://bucket/prefix.
func ParseURL(s string) (bucket, prefix string, err error) {
	u, err := url.Parse(s)
	if err != nil || u.Scheme != "s3" || u.Host == "" {
		return "", "", fmt.Errorf("%w: %q", ErrBadURL, s)
	}
	return u.Host, strings.TrimPrefix(u.Path, "/"), nil
}

// Archive is one s3://bucket/prefix of a trail archive.
type Archive struct {
	api      API
	bucket   string
	prefix   string
	filter   trail.ArchiveFilter
	Parallel int // downloads in flight; DefaultParallel when 0
}

// New returns the archive at s3://bucket/prefix, read through api, selected by filter.
func New(api API, bucket, prefix string, filter trail.ArchiveFilter) *Archive {
	return &Archive{api: api, bucket: bucket, prefix: prefix, filter: filter}
}

// Object is one object the listing found.
type Object struct {
	Key  string
	Size int64
}

// Listing is what List found: the objects to read (log and Insights files, and others whose names a walk reads),
// the digest files (counted, never downloaded), and the objects a walk passes over.
type Listing struct {
	Objects []Object
	Digests int
	Skipped []string // s3:// URLs
}

// List lists the archive, pruned by the filter, in key order.
func (a *Archive) List(ctx context.Context) (Listing, error) {
	var l Listing
	if err := a.walk(ctx, a.prefix, a.startLevel(), &l); err != nil {
		return Listing{}, err
	}
	slices.SortFunc(l.Objects, func(x, y Object) int { return strings.Compare(x.Key, y.Key) })
	slices.Sort(l.Skipped)
	return l, nil
}

// URL names an object as s3://bucket/key.
func (a *Archive) URL(key string) string { return "s3://" + a.bucket + "/" + key }

// level is what the next folder below a prefix is in the layout.
type level int

const (
	levelAbove   level = iota // before AWSLogs/: looking for it
	levelTop                  // under AWSLogs/: an account, or an organization id
	levelAccount              // under an organization id: an account
	levelKind                 // CloudTrail, CloudTrail-Insight, CloudTrail-Digest
	levelRegion
	levelYear
	levelMonth
	levelDay
	levelFiles // the objects of one day
	levelFlat  // not the layout (or a prefix ending inside a name): everything below, unpruned
)

// startLevel places the user's prefix in the layout.
func (a *Archive) startLevel() level {
	if a.prefix != "" && !strings.HasSuffix(a.prefix, "/") {
		return levelFlat
	}
	parts := strings.Split(strings.TrimSuffix(a.prefix, "/"), "/")
	i := slices.Index(parts, trail.ArchiveRoot)
	if i < 0 {
		return levelAbove
	}
	lv := levelTop
	for _, p := range parts[i+1:] {
		switch {
		case lv == levelTop && trail.IsOrgID(p):
			lv = levelAccount
		case lv == levelTop:
			lv = levelKind
		default:
			lv++
		}
	}
	return min(lv, levelFiles)
}

// walk lists prefix, which is at level lv, and descends into the folders the filter selects.
func (a *Archive) walk(ctx context.Context, prefix string, lv level, l *Listing) error {
	if lv == levelFiles || lv == levelFlat {
		return a.files(ctx, prefix, l)
	}
	folders, err := a.folders(ctx, prefix, l)
	if err != nil {
		return err
	}
	for _, f := range folders {
		name := strings.TrimSuffix(strings.TrimPrefix(f, prefix), "/")
		next := lv + 1
		switch lv {
		case levelAbove:
			// A trail's S3 key prefix may have several levels; look that deep for AWSLogs/, no deeper.
			if name == trail.ArchiveRoot {
				next = levelTop
			} else if strings.Count(strings.TrimPrefix(f, a.prefix), "/") < maxPrefixDepth {
				next = levelAbove
			} else {
				continue
			}
		case levelTop:
			if trail.IsOrgID(name) {
				next = levelAccount
			} else if !a.filter.Account(name) {
				continue
			} else {
				next = levelKind
			}
		case levelAccount:
			if !a.filter.Account(name) {
				continue
			}
		case levelKind:
			if _, ok := trail.ArchiveKind(name); !ok {
				continue // e.g. a CloudTrail Lake export: not a trail's files
			}
		case levelRegion:
			if !a.filter.Region(name) {
				continue
			}
		case levelYear, levelMonth, levelDay:
			if !a.dateSelected(f, lv) {
				continue
			}
		}
		if err := a.walk(ctx, f, next, l); err != nil {
			return err
		}
	}
	return nil
}

// dateSelected reports whether a year, month or day folder overlaps the filter's days.
func (a *Archive) dateSelected(folder string, lv level) bool {
	parts := strings.Split(strings.TrimSuffix(folder, "/"), "/")
	n := map[level]int{levelYear: 1, levelMonth: 2, levelDay: 3}[lv]
	if len(parts) < n {
		return false
	}
	ymd := parts[len(parts)-n:]
	nums := []int{0, 1, 1}
	for i, p := range ymd {
		v, err := strconv.Atoi(p)
		if err != nil {
			return false
		}
		nums[i] = v
	}
	start := time.Date(nums[0], time.Month(nums[1]), nums[2], 0, 0, 0, 0, time.UTC)
	end := start.AddDate(map[level]int{levelYear: 1}[lv], map[level]int{levelMonth: 1}[lv], map[level]int{levelDay: 1}[lv]).Add(-24 * time.Hour)
	first, last := a.filter.Days()
	return (first.IsZero() || !end.Before(first)) && (last.IsZero() || !start.After(last))
}

// folders lists the folders right below prefix; objects found at that level are listed as files.
func (a *Archive) folders(ctx context.Context, prefix string, l *Listing) ([]string, error) {
	var out []string
	p := s3.NewListObjectsV2Paginator(a.api, &s3.ListObjectsV2Input{Bucket: aws.String(a.bucket), Prefix: aws.String(prefix), Delimiter: aws.String("/")})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("archive: list %s: %w", a.URL(prefix), err)
		}
		for _, cp := range page.CommonPrefixes {
			out = append(out, aws.ToString(cp.Prefix))
		}
		for _, o := range page.Contents {
			a.add(l, aws.ToString(o.Key), aws.ToInt64(o.Size))
		}
	}
	return out, nil
}

// files lists every object below prefix.
func (a *Archive) files(ctx context.Context, prefix string, l *Listing) error {
	p := s3.NewListObjectsV2Paginator(a.api, &s3.ListObjectsV2Input{Bucket: aws.String(a.bucket), Prefix: aws.String(prefix)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return fmt.Errorf("archive: list %s: %w", a.URL(prefix), err)
		}
		for _, o := range page.Contents {
			a.add(l, aws.ToString(o.Key), aws.ToInt64(o.Size))
		}
	}
	return nil
}

func (a *Archive) add(l *Listing, key string, size int64) {
	if strings.HasSuffix(key, "/") {
		return // a folder marker the console writes
	}
	if f, ok := trail.ParseArchivePath(key); ok {
		switch {
		case !a.filter.Match(f):
			return
		case f.Kind == trail.DigestFile:
			l.Digests++
			return
		}
	}
	if !replay.Readable(key) {
		l.Skipped = append(l.Skipped, a.URL(key))
		return
	}
	l.Objects = append(l.Objects, Object{Key: key, Size: size})
}

// Inputs returns the objects as replay inputs in order, downloading up to Parallel of them ahead of the one being
// read. Stopping the iteration (or cancelling ctx) stops the downloads.
func (a *Archive) Inputs(ctx context.Context, objects []Object) iter.Seq[replay.Input] {
	return func(yield func(replay.Input) bool) {
		ctx, cancel := context.WithCancel(ctx)
		defer cancel()
		parallel := a.Parallel
		if parallel <= 0 {
			parallel = DefaultParallel
		}
		type download struct {
			body []byte
			err  error
			done chan struct{}
		}
		downloads := make([]*download, len(objects))
		for i := range downloads {
			downloads[i] = &download{done: make(chan struct{})}
		}
		// A download holds a slot and its size of the budget from its start until the replay is done with it.
		slots := make(chan struct{}, parallel)
		budget := semaphore.NewWeighted(prefetchBudget)
		go func() {
			for i, o := range objects {
				select {
				case slots <- struct{}{}:
				case <-ctx.Done():
					return
				}
				d := downloads[i]
				if o.Size > maxPrefetch {
					close(d.done) // streamed when its turn comes
					continue
				}
				if budget.Acquire(ctx, max(o.Size, 1)) != nil {
					return
				}
				go func() {
					defer close(d.done)
					d.body, d.err = a.fetch(ctx, o.Key)
				}()
			}
		}()
		for i, o := range objects {
			d := downloads[i]
			select {
			case <-d.done:
			case <-ctx.Done():
				return
			}
			in := replay.Input{Name: a.URL(o.Key), Open: func(ctx context.Context) (io.ReadCloser, error) {
				if d.body == nil && d.err == nil {
					return a.open(ctx, o.Key)
				}
				return io.NopCloser(bytes.NewReader(d.body)), d.err
			}}
			more := yield(in)
			d.body = nil
			if o.Size <= maxPrefetch {
				budget.Release(max(o.Size, 1))
			}
			<-slots
			if !more {
				return
			}
		}
	}
}

func (a *Archive) open(ctx context.Context, key string) (io.ReadCloser, error) {
	out, err := a.api.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(a.bucket), Key: aws.String(key)})
	if err != nil {
		return nil, fmt.Errorf("archive: get %s: %w", a.URL(key), err)
	}
	return out.Body, nil
}

func (a *Archive) fetch(ctx context.Context, key string) ([]byte, error) {
	body, err := a.open(ctx, key)
	if err != nil {
		return nil, err
	}
	defer body.Close()
	data, err := io.ReadAll(body)
	if err != nil {
		return nil, fmt.Errorf("archive: read %s: %w", a.URL(key), err)
	}
	return data, nil
}
