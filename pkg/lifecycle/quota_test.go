package lifecycle_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/grantwatch/grantwatch/pkg/lifecycle"
)

// TestGrantQuota: grant-quota is raised above 80% of the 50,000 grants per key, strictly, once.
func TestGrantQuota(t *testing.T) {
	for _, tt := range []struct {
		active int
		want   int
	}{{40000, 0}, {40001, 1}} {
		t.Run(fmt.Sprint(tt.active), func(t *testing.T) {
			k := lifecycle.NewKey(jobKey)
			for i := range tt.active {
				id := fmt.Sprintf("g%05d", i)
				k.Grants[id] = lifecycle.Grant{ID: id, KeyARN: jobKey, Kind: lifecycle.Primary, CreatedAt: j0, CreateEventID: "c" + id,
					RetiringPrincipal: "bedrock.amazonaws.com", Grantee: "bedrock.amazonaws.com", ThroughBedrock: true}
			}
			r := k.Sweep(j0.Add(time.Hour), lifecycle.DefaultConfig())
			again := k.Sweep(j0.Add(2*time.Hour), lifecycle.DefaultConfig())
			if len(r.Alerts) != tt.want || len(again.Alerts) != 0 || (tt.want == 1 && r.Alerts[0].Type != lifecycle.GrantQuota) {
				t.Errorf("Sweep() alerts = %v then %v; want %d grant-quota, then none", r.Alerts, again.Alerts, tt.want)
			}
		})
	}
}
