package tenantstats

import (
	"github.com/pvetenant/backend/shared/fanout"
	"github.com/pvetenant/backend/shared/metrics"
)

// recordMetrics emits one EMF line for a polled request: servers covered and
// offline, cache hits, and each Proxmox call made for this request (a result
// shared through single-flight counts for every request that waited on it;
// a cached one counts as a hit).
func recordMetrics(rs []fanout.Result[served]) metrics.Stats {
	s := metrics.Stats{Queried: len(rs)}
	for _, r := range rs {
		if !r.Health.Online() {
			s.Offline++
		}
		if !r.Value.answered {
			continue
		}
		if res := r.Value.res; res.Cached {
			s.CacheHits++
		} else {
			s.Fetched = append(s.Fetched, res.Took)
			if res.Err != nil {
				s.Errors++
			}
		}
	}
	metrics.TenantStats(Name, s)
	return s
}
