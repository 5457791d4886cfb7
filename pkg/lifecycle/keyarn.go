package lifecycle

import (
	"strings"
	"unicode"
)

// IsKeyARN reports whether s is a KMS key ARN: arn:<partition>:kms:<region>:<account>:key/<key id>. An alias ARN
// (…:alias/name), a bare key id and an alias name are not.
//
// It checks the shape only, not the partition, Region or id alphabet: partitions are added over time (aws-iso-f,
// aws-eusc), multi-Region keys have mrk- ids, and AWS's own samples use ids such as 1234abcd-…-123456SAMPLE. Ingest
// records every key it recognises here and queries accept exactly these, so that a recorded key can always be asked
// about.
func IsKeyARN(s string) bool {
	parts := strings.SplitN(s, ":", 6)
	if len(parts) != 6 || parts[0] != "arn" || parts[2] != "kms" {
		return false
	}
	id, ok := strings.CutPrefix(parts[5], "key/")
	for _, p := range []string{parts[1], parts[3], parts[4], id} {
		ok = ok && arnField(p)
	}
	return ok
}

// arnField reports whether s can stand between the separators of an ARN: not empty, and no separator, space or
// control character.
func arnField(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if c == ':' || c == '/' || unicode.IsSpace(c) || !unicode.IsPrint(c) {
			return false
		}
	}
	return true
}

// KeyPlace returns the partition, Region and account a key ARN names: a whole organization's keys are told apart by
// them. All three are empty when s is not a key ARN (IsKeyARN).
func KeyPlace(s string) (partition, region, account string) {
	if !IsKeyARN(s) {
		return "", "", ""
	}
	parts := strings.SplitN(s, ":", 6)
	return parts[1], parts[3], parts[4]
}

// IsAccountID reports whether s is an AWS account id: twelve digits.
func IsAccountID(s string) bool {
	if len(s) != 12 {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// IsRegionName reports whether s has the shape of an AWS Region name: letters, then dash-separated words, then a
// number (us-east-1, us-gov-west-1, eu-isoe-west-1, cn-north-1).
func IsRegionName(s string) bool {
	words := strings.Split(s, "-")
	if len(words) < 3 {
		return false
	}
	for i, w := range words {
		last := i == len(words)-1
		if w == "" {
			return false
		}
		for _, c := range w {
			if last && (c < '0' || c > '9') || !last && (c < 'a' || c > 'z') {
				return false
			}
		}
	}
	return true
}
