package trail

import (
	"slices"
	"strings"
	"time"
)

// FileKind is what a file of a trail's S3 archive holds.
type FileKind uint8

const (
	LogFile     FileKind = iota // CloudTrail/: records
	InsightFile                 // CloudTrail-Insight/: Insights records
	DigestFile                  // CloudTrail-Digest/: hashes and signatures of the log files, no records
)

// ArchiveFile is what a path says about a file of a trail's archive. CloudTrail writes
//
//	AWSLogs/[<org-id>/]<account>/<CloudTrail|CloudTrail-Insight|CloudTrail-Digest>/<region>/<YYYY>/<MM>/<DD>/<file>
//
// where the organization id (o-…) appears for an organization trail, and the file of a log is named
// <account>_CloudTrail_<region>_<YYYYMMDDTHHmmZ>_<unique>.json.gz, the time being when it was delivered.
type ArchiveFile struct {
	OrgID, Account, Region string
	Kind                   FileKind
	Day                    time.Time // the date folder, UTC midnight
	Delivered              time.Time // from the file name; zero when it does not say
}

// Folder names of a trail archive.
const (
	ArchiveRoot   = "AWSLogs"
	logFolder     = "CloudTrail"
	insightFolder = "CloudTrail-Insight"
	digestFolder  = "CloudTrail-Digest"
)

// ArchiveKind maps a folder under an account to the kind of its files.
func ArchiveKind(folder string) (FileKind, bool) {
	switch folder {
	case logFolder:
		return LogFile, true
	case insightFolder:
		return InsightFile, true
	case digestFolder:
		return DigestFile, true
	}
	return 0, false
}

// IsOrgID reports whether a folder under AWSLogs is an organization id (an organization trail's layout).
func IsOrgID(s string) bool { return strings.HasPrefix(s, "o-") && len(s) > 2 }

// ParseArchivePath reads a path (a file path or an S3 key, with any prefix before AWSLogs/) in the archive layout.
func ParseArchivePath(p string) (ArchiveFile, bool) {
	parts := strings.Split(strings.ReplaceAll(p, "\\", "/"), "/")
	i := slices.Index(parts, ArchiveRoot)
	if i < 0 {
		return ArchiveFile{}, false
	}
	parts = parts[i+1:]
	var f ArchiveFile
	if len(parts) > 0 && IsOrgID(parts[0]) {
		f.OrgID, parts = parts[0], parts[1:]
	}
	if len(parts) != 7 {
		return ArchiveFile{}, false
	}
	kind, ok := ArchiveKind(parts[1])
	day, err := time.Parse("2006/01/02", parts[3]+"/"+parts[4]+"/"+parts[5])
	if !ok || err != nil {
		return ArchiveFile{}, false
	}
	f.Account, f.Kind, f.Region, f.Day = parts[0], kind, parts[2], day
	// <account>_<folder>_<region>_[<trail>_<region>_]<time>[_<unique>].json.gz
	for _, field := range strings.Split(parts[6], "_") {
		for _, layout := range []string{"20060102T1504Z", "20060102T150405Z"} {
			if t, err := time.Parse(layout, field); err == nil {
				f.Delivered = t
			}
		}
	}
	return f, true
}

// ArchiveFilter selects the files of an archive by account, Region and date; zero fields select everything.
// Since and Until prune by the date folders and delivery times, not by event: a file delivered at a time holds
// records from any time before it, so files delivered before Since are left out, and days up to one after
// Until are read (records of a file are all applied).
type ArchiveFilter struct {
	Since, Until      time.Time
	Accounts, Regions []string
}

// Account reports whether files of the account are selected.
func (f ArchiveFilter) Account(a string) bool {
	return len(f.Accounts) == 0 || slices.Contains(f.Accounts, a)
}

// Region reports whether files of the Region are selected.
func (f ArchiveFilter) Region(r string) bool {
	return len(f.Regions) == 0 || slices.Contains(f.Regions, r)
}

// Days returns the date range to read, UTC midnights (zero: unbounded).
func (f ArchiveFilter) Days() (first, last time.Time) {
	if !f.Since.IsZero() {
		first = f.Since.UTC().Truncate(24 * time.Hour)
	}
	if !f.Until.IsZero() {
		last = f.Until.UTC().Truncate(24*time.Hour).AddDate(0, 0, 1)
	}
	return first, last
}

// Day reports whether the day folder may hold selected files.
func (f ArchiveFilter) Day(d time.Time) bool {
	first, last := f.Days()
	return (first.IsZero() || !d.Before(first)) && (last.IsZero() || !d.After(last))
}

// Match reports whether the file is selected.
func (f ArchiveFilter) Match(a ArchiveFile) bool {
	if !f.Account(a.Account) || !f.Region(a.Region) || !f.Day(a.Day) {
		return false
	}
	return f.Since.IsZero() || a.Delivered.IsZero() || !a.Delivered.Before(f.Since)
}
