package policy_test

import (
	"fmt"
	"time"

	"github.com/cairnbackup/cairn/policy"
)

func ExampleApply() {
	at := func(day, hour int) time.Time { return time.Date(2026, 12, day, hour, 0, 0, 0, time.UTC) }
	snaps := []policy.Snapshot{
		{ID: "a", Time: at(1, 9)},
		{ID: "b", Time: at(1, 18)},
		{ID: "c", Time: at(4, 9)},
		{ID: "d", Time: at(8, 9)},
	}
	within, _ := policy.ParseDuration("2d")
	rules := policy.Rules{Daily: 2, Weekly: 4, Within: within}
	fmt.Println(rules)
	keep, remove := policy.Apply(snaps, rules, at(9, 0))
	for _, k := range keep {
		fmt.Println("keep", k.Snapshot.ID, k.Reasons)
	}
	for _, s := range remove {
		fmt.Println("remove", s.ID)
	}
	// Output:
	// keep 2 daily, 4 weekly, within 2d
	// keep d [within 2d daily 2026-12-08 weekly 2026-W50]
	// keep c [daily 2026-12-04 weekly 2026-W49]
	// keep a [oldest weekly 2026-W49]
	// remove b
}
