package policy

import (
	"reflect"
	"testing"
)

func TestRulesEmpty(t *testing.T) {
	if !(Rules{}).Empty() {
		t.Error("zero Rules not Empty")
	}
	for _, r := range []Rules{
		{Last: 1}, {Hourly: Unlimited}, {Daily: 1}, {Weekly: 1}, {Monthly: 1}, {Yearly: 1},
		{Within: Duration{Hours: 1}}, {WithinHourly: Duration{Days: 1}}, {WithinDaily: Duration{Days: 1}},
		{WithinWeekly: Duration{Months: 1}}, {WithinMonthly: Duration{Years: 1}}, {WithinYearly: Duration{Years: 1}},
		{Tags: [][]string{{""}}}, {Tags: [][]string{{}}},
	} {
		if r.Empty() {
			t.Errorf("%+v is Empty", r)
		}
	}
}

func TestRulesValidate(t *testing.T) {
	for _, r := range []Rules{{}, {Last: Unlimited, Daily: 7}, {Within: Duration{Days: 1}}} {
		if err := r.Validate(); err != nil {
			t.Errorf("%+v: %v", r, err)
		}
	}
	for _, r := range []Rules{{Last: -2}, {Yearly: -5}, {Within: Duration{Days: -1}}, {WithinYearly: Duration{Hours: -1}}} {
		if err := r.Validate(); err == nil {
			t.Errorf("%+v accepted", r)
		}
	}
}

func TestRulesString(t *testing.T) {
	for _, c := range []struct {
		r    Rules
		want string
	}{
		{Rules{}, "no rules (keep everything)"},
		{Rules{Daily: 7, Weekly: 4, Within: Duration{Days: 90}}, "keep 7 daily, 4 weekly, within 90d"},
		{Rules{Last: 3, Monthly: Unlimited}, "keep last 3, all monthly"},
		{Rules{Last: Unlimited}, "keep all"},
		{Rules{WithinDaily: Duration{Days: 7}, WithinYearly: Duration{Years: 75}}, "keep daily within 7d, yearly within 75y"},
		{Rules{Tags: [][]string{{"a", "b"}, {"c"}, {""}}}, "keep tag a,b or c or (none)"},
	} {
		if got := c.r.String(); got != c.want {
			t.Errorf("%+v: %q, want %q", c.r, got, c.want)
		}
	}
}

func TestParseTagList(t *testing.T) {
	for in, want := range map[string][]string{
		"a":         {"a"},
		"a,b":       {"a", "b"},
		" a , b ":   {"a", "b"},
		"":          {""},
		",a":        {"", "a"},
		"daily-job": {"daily-job"},
	} {
		if got := ParseTagList(in); !reflect.DeepEqual(got, want) {
			t.Errorf("ParseTagList(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestReasonString(t *testing.T) {
	for _, c := range []struct {
		r    Reason
		want string
	}{
		{Reason{Rule: RuleDaily, Detail: "2016-04-10"}, "daily 2016-04-10"},
		{Reason{Rule: RuleWeekly, Detail: "2015-W53", Oldest: true}, "oldest weekly 2015-W53"},
		{Reason{Rule: RuleTag, Detail: ""}, `tag ""`},
		{Reason{Rule: RuleWithin, Detail: "90d"}, "within 90d"},
	} {
		if got := c.r.String(); got != c.want {
			t.Errorf("%+v: %q, want %q", c.r, got, c.want)
		}
	}
}
