package app

// Accounts and Regions. A whole organization's keys live in many accounts and Regions, and a key ARN names both
// (lifecycle.KeyPlace): queries filter on them (Filter), a backfill reads each account-Region's event history
// (Target), and reconcile lists each key's grants in the key's own account (Scope).

import (
	"slices"

	"github.com/grantwatch/grantwatch/pkg/lifecycle"
)

// Target is one account and Region whose CloudTrail event history a backfill reads. The zero Target is the
// caller's own account and Region, read with its own credentials: a request without targets reads only it.
type Target struct {
	Account string `json:"account,omitempty"`
	Region  string `json:"region,omitempty"`
}

// String names the target for messages: "111122223333/eu-west-1"; "this account" stands for an empty Account
// (the caller's own), and an empty Region (the caller's own) is left out.
func (t Target) String() string {
	s := t.Account
	if s == "" {
		s = "this account"
	}
	if t.Region != "" {
		s += "/" + t.Region
	}
	return s
}

// Targets returns every account in every Region, accounts first.
func Targets(accounts, regions []string) []Target {
	out := make([]Target, 0, len(accounts)*len(regions))
	for _, a := range accounts {
		for _, r := range regions {
			out = append(out, Target{Account: a, Region: r})
		}
	}
	return out
}

// Scope narrows a run to the keys of some accounts and Regions. An empty list does not narrow.
type Scope struct {
	Accounts []string
	Regions  []string
}

// Contains reports whether the key is in the scope.
func (s Scope) Contains(keyARN string) bool {
	_, region, account := lifecycle.KeyPlace(keyARN)
	return (len(s.Accounts) == 0 || slices.Contains(s.Accounts, account)) && (len(s.Regions) == 0 || slices.Contains(s.Regions, region))
}
