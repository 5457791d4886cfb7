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
