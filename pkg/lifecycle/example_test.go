package lifecycle_test

import (
	"fmt"
	"time"

	"github.com/grantwatch/grantwatch/pkg/lifecycle"
)

func ExampleKey_Sweep() {
	k := lifecycle.NewKey(keyARN)
	cfg := lifecycle.DefaultConfig()
	_, _ = k.Apply(create("c1", "primary-1", t0, customerViaBedrock, allFour), cfg)
	_, _ = k.Apply(create("c2", "secondary-1", t0.Add(time.Minute), bedrockService, narrow), cfg)
	r := k.Sweep(t0.Add(25*time.Hour), cfg)
	fmt.Println(k.Grants["secondary-1"].ParentID, r.Alerts[0].Type, r.Alerts[0].Severity)
	// Output: primary-1 long-lived-secondary high
}
