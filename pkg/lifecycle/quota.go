package lifecycle

import (
	"fmt"
	"time"
)

// GrantsPerKeyQuota is KMS's default quota of grants per KMS key. The quota is adjustable (KMS's resource quotas
// page), so an account may have a higher one; grantwatch measures against the default. CreateGrant fails beyond
// the quota, so a key that Bedrock keeps granting on would stop working for every new job.
const GrantsPerKeyQuota = 50000

// QuotaWarnPercent is the share of GrantsPerKeyQuota at which grant-quota is raised.
const QuotaWarnPercent = 80

// ActiveGrants counts the key's grants that have been created and not ended, by kind. It counts only the
// Bedrock grants grantwatch knows: other grants on the key count against the quota too, so the alert is early
// only in that respect.
func (k Key) ActiveGrants() map[Kind]int {
	out := map[Kind]int{}
	for _, g := range k.Grants {
		if g.Created() && !g.Ended() && !g.Pending {
			out[g.Kind]++
		}
	}
	return out
}

// checkQuota raises the key-level grant-quota alert, once, when the key's active grants exceed QuotaWarnPercent
// of the quota.
func (k *Key) checkQuota(r *Result, at time.Time) {
	n := 0
	for _, c := range k.ActiveGrants() {
		n += c
	}
	if n*100 <= GrantsPerKeyQuota*QuotaWarnPercent {
		return
	}
	for _, a := range k.Usage.Alerts {
		if a.Type == GrantQuota {
			return
		}
	}
	a := Alert{Type: GrantQuota, Severity: severities[GrantQuota], KeyARN: k.ARN, RaisedAt: at,
		Message: fmt.Sprintf("key %s has %d active Bedrock grants, more than %d%% of the KMS quota of %d grants per key: new Bedrock jobs on it will fail at the quota",
			k.ARN, n, QuotaWarnPercent, GrantsPerKeyQuota)}
	k.Usage.Alerts = append(k.Usage.Alerts, a)
	r.Alerts = append(r.Alerts, a)
	r.UsageChanged = true
}
