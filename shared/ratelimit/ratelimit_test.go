package ratelimit

import (
	"testing"
	"time"
)

func TestParse(t *testing.T) {
	l, err := Parse("")
	if err != nil || l != Defaults() {
		t.Fatalf("empty: %+v %v", l, err)
	}
	l, err = Parse(" probe_per_user=5/30s, power_per_user=0 ,saved_test_per_user=7")
	if err != nil {
		t.Fatal(err)
	}
	if l.ProbePerUser != (Rule{5, 30 * time.Second}) || l.PowerPerUser.Limit != 0 ||
		l.SavedTestPerUser != (Rule{7, time.Minute}) || l.ProbePerTenant != Defaults().ProbePerTenant {
		t.Fatalf("parsed %+v", l)
	}
	for _, bad := range []string{"probe=5/1m", "probe_per_user", "probe_per_user=-1", "probe_per_user=x/1m",
		"probe_per_user=5/500ms", "probe_per_user=5/1500ms", "probe_per_user=5/48h", "power_per_user=5/forever"} {
		if _, err := Parse(bad); err == nil {
			t.Errorf("Parse(%q) accepted", bad)
		}
	}
}
