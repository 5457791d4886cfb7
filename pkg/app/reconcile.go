package app

// The Reconcile use case: compare every key's recorded grants with what KMS ListGrants lists, so that a grant whose
// events were never delivered is found, and one whose end was never delivered is ended (lifecycle.Key.Reconcile).
// A key whose grants could not be listed is reported and left untouched: "could not list" is never "no grants".

import (
	"context"
	"errors"
	"maps"
	"slices"
	"time"

	"github.com/grantwatch/grantwatch/pkg/lifecycle"
)

// ErrCouldNotList marks a listing that failed (access denied, throttling, a missing key, the network). GrantLister
// implementations wrap it.
var ErrCouldNotList = errors.New("could not list grants")

// GrantLister lists every grant KMS holds on a key, all pages, or fails as a whole.
type GrantLister interface {
	ListGrants(ctx context.Context, keyARN string) ([]lifecycle.ListedGrant, error)
}

// KeyLister lists the KMS keys that have recorded Bedrock grants, without a Scan: every key, or the keys of the
// accounts given. store.Table and store.Memory implement it; the use case gets it from its constructor, never by
// asking the store what it can do.
type KeyLister interface {
	ReconcileKeys(ctx context.Context, accounts []string) ([]string, error)
}

// KeyReconcile is what reconcile did on one key.
type KeyReconcile struct {
	KeyARN       string            `json:"keyArn"`
	Added        []string          `json:"added,omitempty"`        // untracked Bedrock grants now recorded
	Ended        []string          `json:"ended,omitempty"`        // grants gone from KMS, ended "reconciled"
	CouldNotList string            `json:"couldNotList,omitempty"` // why the key's grants could not be listed
	Listed       int               `json:"listed"`                 // grants KMS listed on the key
	Alerts       []lifecycle.Alert `json:"alerts,omitempty"`       // raised on the key by this reconcile

	assumeFailed bool // CouldNotList because the key's account could not be entered (ErrCouldNotAssume)
}

// ReconcileReport is what one reconcile did, key by key in key order, and account by account.
type ReconcileReport struct {
	At       time.Time          `json:"at"`
	Keys     []KeyReconcile     `json:"keys"`
	Accounts []AccountReconcile `json:"accounts"`
}

// AccountReconcile sums up one account's keys in a reconcile.
type AccountReconcile struct {
	Account      string `json:"account"`
	Keys         int    `json:"keys"`
	CouldNotList int    `json:"couldNotList"` // keys whose grants could not be listed
	// CouldNotAssume says why nothing in the account could be checked: its member role could not be assumed. Its
	// keys are all counted in CouldNotList, with this reason.
	CouldNotAssume string `json:"couldNotAssume,omitempty"`
}

// CouldNotList counts the keys whose grants could not be listed.
func (r ReconcileReport) CouldNotList() int {
	n := 0
	for _, k := range r.Keys {
		if k.CouldNotList != "" {
			n++
		}
	}
	return n
}

// Reconcile is the use case. It runs on a Service's read-change-write cycle, with the two things only it needs
// passed in: the grants KMS lists, and the keys the store records.
type Reconcile struct {
	svc    *Service
	grants GrantLister
	keys   KeyLister // nil: only keys named to Run can be reconciled
}

// NewReconcile returns the use case. keys may be nil when every run names its keys (the CLI on a memory store).
func NewReconcile(svc *Service, grants GrantLister, keys KeyLister) *Reconcile {
	return &Reconcile{svc: svc, grants: grants, keys: keys}
}

// Run reconciles the given keys, or, when keys is empty, every key with recorded Bedrock grants (KeyLister), in
// scope (the zero Scope: every account and Region). A key that cannot be listed is reported and skipped; store
// failures end the run. Once an account's member role could not be assumed, its other keys are reported with the
// same reason without asking again.
func (rc *Reconcile) Run(ctx context.Context, keys []string, scope Scope, at time.Time) (ReconcileReport, error) {
	rep := ReconcileReport{At: at.UTC(), Accounts: []AccountReconcile{}}
	if len(keys) == 0 {
		if rc.keys == nil {
			return rep, &InputError{Field: "keys", Problem: "are required: this store cannot list the keys it records"}
		}
		var err error
		if keys, err = rc.keys.ReconcileKeys(ctx, scope.Accounts); err != nil {
			return rep, err
		}
	}
	keys = slices.DeleteFunc(slices.Compact(slices.Sorted(slices.Values(keys))), func(k string) bool { return !scope.Contains(k) })
	accounts := map[string]*AccountReconcile{}
	for _, arn := range keys {
		if err := ctx.Err(); err != nil {
			return rep, err
		}
		_, _, account := lifecycle.KeyPlace(arn)
		acc := accounts[account]
		if acc == nil {
			acc = &AccountReconcile{Account: account}
			accounts[account] = acc
		}
		acc.Keys++
		kr := KeyReconcile{KeyARN: arn, CouldNotList: acc.CouldNotAssume}
		if acc.CouldNotAssume == "" {
			var err error
			if kr, err = rc.svc.reconcileKey(ctx, rc.grants, arn, at.UTC()); err != nil {
				return rep, err
			}
			if kr.assumeFailed {
				acc.CouldNotAssume = kr.CouldNotList
			}
		}
		if kr.CouldNotList != "" {
			acc.CouldNotList++
		}
		rep.Keys = append(rep.Keys, kr)
	}
	for _, a := range slices.Sorted(maps.Keys(accounts)) {
		rep.Accounts = append(rep.Accounts, *accounts[a])
	}
	return rep, nil
}

func (s *Service) reconcileKey(ctx context.Context, lister GrantLister, arn string, at time.Time) (KeyReconcile, error) {
	kr := KeyReconcile{KeyARN: arn}
	listed, err := lister.ListGrants(ctx, arn)
	if err != nil {
		if ctx.Err() != nil {
			return kr, ctx.Err()
		}
		s.log.WarnContext(ctx, "could not list grants; key left as recorded", "keyArn", arn, "err", err)
		kr.CouldNotList, kr.assumeFailed = err.Error(), errors.Is(err, ErrCouldNotAssume)
		return kr, nil
	}
	kr.Listed = len(listed)
	var rr lifecycle.ReconcileChanges
	r, _, err := s.update(ctx, arn, lifecycle.ReconcileLoad(listed), at, "reconcile "+arn, func(k *lifecycle.Key) (lifecycle.Result, bool, error) {
		var r lifecycle.Result
		r, rr = k.Reconcile(listed, at, s.cfg)
		return r, r.Writes() || !r.Need.Zero(), nil
	})
	if err != nil || !r.Writes() {
		return kr, err
	}
	kr.Added, kr.Ended, kr.Alerts = rr.Added, rr.Ended, r.Alerts
	return kr, nil
}
