package metrics_test

import (
	"bytes"
	"testing"
	"time"

	"github.com/pvetenant/backend/shared/metrics"
	"github.com/pvetenant/backend/shared/metrics/emftest"
)

func TestEMFShape(t *testing.T) {
	var buf bytes.Buffer
	defer metrics.SetOutput(&buf)()
	metrics.Request("list-vms", 503, 12500*time.Microsecond)
	metrics.TenantStats("tenant-stats", metrics.Stats{Queried: 3, Offline: 1, CacheHits: 1,
		Fetched: []time.Duration{10 * time.Millisecond, 20 * time.Millisecond}, Errors: 1})
	metrics.TenantStats("tenant-stats", metrics.Stats{Queried: 0}) // no Proxmox call: no latency entry
	lines := emftest.Parse(t, buf.String())
	if len(lines) != 3 {
		t.Fatalf("%d lines: %s", len(lines), buf.String())
	}
	r := lines[0].Root
	if r["Function"] != "list-vms" || r["Requests"] != 1.0 || r["Errors5xx"] != 1.0 || r["Errors4xx"] != 0.0 || r["Duration"] != 12.5 {
		t.Fatalf("request line %v", r)
	}
	s := lines[1].Root
	if s["ServersQueried"] != 3.0 || s["ServersOffline"] != 1.0 || s["CacheHits"] != 1.0 || s["CacheMisses"] != 2.0 || s["ProxmoxErrors"] != 1.0 {
		t.Fatalf("stats line %v", s)
	}
	if lat, _ := s["ProxmoxLatency"].([]any); len(lat) != 2 || lat[0] != 10.0 || lat[1] != 20.0 {
		t.Fatalf("latency %v", s["ProxmoxLatency"])
	}
	if _, ok := lines[2].Root["ProxmoxLatency"]; ok {
		t.Fatal("a request without Proxmox calls reports a latency")
	}
	for _, m := range lines[2].AWS.CloudWatchMetrics[0].Metrics {
		if m.Name == "ProxmoxLatency" {
			t.Fatal("declared a metric without a value")
		}
	}
}
