package tenantstats

import (
	"github.com/pvetenant/backend/shared/fanout"
	"github.com/pvetenant/backend/shared/metrics"
	"github.com/pvetenant/backend/shared/proxmox"
	"github.com/pvetenant/backend/shared/statscache"
)

// recordMetrics emits one EMF line for a polled request: servers covered and
// offline, cache hits, and each Proxmox call made for this request (a result
// shared through single-flight counts for every request that waited on it;
// a cached one counts as a hit).
func recordMetrics(health []fanout.Health, answered []bool, results []statscache.Result[[]proxmox.Resource]) {
	s := metrics.Stats{Queried: len(health)}
	for i, h := range health {
		if !h.Online() {
			s.Offline++
		}
		if !answered[i] {
			continue
		}
		if results[i].Cached {
			s.CacheHits++
			continue
		}
		s.Fetched = append(s.Fetched, results[i].Took)
		if results[i].Err != nil {
			s.Errors++
		}
	}
	metrics.TenantStats(Name, s)
}
