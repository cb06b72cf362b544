package tenantstats_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pvetenant/backend/infra/functest"
	"github.com/pvetenant/backend/infra/pvesim"
	"github.com/pvetenant/backend/shared/proxmox"
)

// Figures, not assertions: run with
//
//	go test -run X -bench 'Fanout|Hanging' -benchtime 3x ./functions/tenant-stats/
//	go test -run X -bench 'Aggregate|WarmCache' -benchtime 2s ./functions/tenant-stats/

// serve sends one get-live-stats request as user, failing tb unless it is a 200.
func serve(tb testing.TB, h http.Handler, token string) string {
	req := httptest.NewRequest(http.MethodPost, "/functions/v1/"+fn, strings.NewReader(`{"tenantId":"`+functest.TenantA+`"}`))
	req.Header.Set("Authorization", "Bearer "+token)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		tb.Fatalf("%d %s", rec.Code, rec.Body.String())
	}
	return rec.Body.String()
}

func serversOnline(tb testing.TB, body string) (online, offline int) {
	var b struct {
		Stats struct {
			Servers struct{ Online, Offline int }
		}
	}
	if err := json.Unmarshal([]byte(body), &b); err != nil {
		tb.Fatal(err)
	}
	return b.Stats.Servers.Online, b.Stats.Servers.Offline
}

func median(d []time.Duration) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[len(s)/2]
}

// simServers starts n standalone simulators answering after latency and
// registers them as servers of tenant A.
func simServers(b *testing.B, e *functest.Env, n int, latency time.Duration) []*pvesim.Sim {
	sims := make([]*pvesim.Sim, n)
	for i := range sims {
		sims[i] = pvesim.NewTestSim(b, pvesim.MustPreset("standalone"))
		sims[i].SetFault(pvesim.Fault{Latency: latency})
		e.AddServer(functest.TenantA, fmt.Sprintf("srv-%02d", i), sims[i], functest.ServerOpts{})
	}
	return sims
}

// 50 servers that each take 100 ms. All 50 are queried at once (the fan-out
// bound, fanout.DefaultLimit, is above 50), so the answer should take about
// 100 ms; the same 50 calls one after the other take fifty times that (the
// baseline). Cache disabled; connections warmed by one call first, as in a
// warm Lambda.
func BenchmarkFanout50Servers(b *testing.B) {
	const latency = 100 * time.Millisecond
	e := newEnv(b, 0, 2*time.Second)
	sims := simServers(b, e, 50, latency)
	token := functest.Token(b, functest.ViewerA)
	fanout := func(n int) func(b *testing.B) {
		return func(b *testing.B) {
			serve(b, e.Handler, token)
			var took []time.Duration
			var body string
			for b.Loop() {
				start := time.Now()
				body = serve(b, e.Handler, token)
				took = append(took, time.Since(start))
			}
			if on, off := serversOnline(b, body); on != n || off != 0 {
				b.Fatalf("%d online, %d offline", on, off)
			}
			b.ReportMetric(float64(median(took))/float64(latency), "ratio-to-100ms")
		}
	}
	b.Run("fanout-50", fanout(50))

	b.Run("sequential", func(b *testing.B) {
		clients := make([]*proxmox.Client, len(sims))
		for i, s := range sims {
			c, err := proxmox.NewClient(proxmox.Target{Host: "127.0.0.1", Port: s.Port(), TokenID: pvesim.PresetTokenID,
				TokenSecret: pvesim.PresetTokenSecret, Fingerprint: s.Fingerprint()}, e.Deps.Proxmox)
			if err != nil {
				b.Fatal(err)
			}
			clients[i] = c
		}
		var took []time.Duration
		for b.Loop() {
			start := time.Now()
			for _, c := range clients {
				if _, err := c.ClusterResources(context.Background(), ""); err != nil {
					b.Fatal(err)
				}
			}
			took = append(took, time.Since(start))
		}
		b.ReportMetric(float64(median(took))/float64(latency), "ratio-to-100ms")
	})
}

// One of 10 servers hangs: the answer comes after about the per-server
// timeout (1 s), with the other nine summed. Cache disabled, so every
// iteration waits for the hang again.
func BenchmarkHangingServerAmong10(b *testing.B) {
	const timeout = time.Second
	e := newEnv(b, 0, timeout)
	sims := simServers(b, e, 10, 0)
	sims[3].SetFault(pvesim.Fault{Hang: true})
	token := functest.Token(b, functest.ViewerA)
	serve(b, e.Handler, token)
	var took []time.Duration
	var body string
	for b.Loop() {
		start := time.Now()
		body = serve(b, e.Handler, token)
		took = append(took, time.Since(start))
	}
	if on, off := serversOnline(b, body); on != 9 || off != 1 {
		b.Fatalf("%d online, %d offline", on, off)
	}
	b.ReportMetric(float64(median(took))/float64(timeout), "ratio-to-timeout")
}

// Requests per second for get-live-stats with every server answer cached:
// what remains is the token check, the access check and server load in
// Postgres, the aggregation and the JSON.
func BenchmarkWarmCache(b *testing.B) {
	e := newEnv(b, time.Hour, 2*time.Second)
	lab := pvesim.NewTestSim(b, pvesim.MustPreset("cluster3"))
	edge := pvesim.NewTestSim(b, pvesim.MustPreset("standalone"))
	e.AddServer(functest.TenantA, "lab", lab, functest.ServerOpts{})
	e.AddServer(functest.TenantA, "edge", edge, functest.ServerOpts{})
	token := functest.Token(b, functest.ViewerA)
	serve(b, e.Handler, token)

	b.Run("serial", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			serve(b, e.Handler, token)
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
	})
	b.Run("parallel", func(b *testing.B) {
		b.SetParallelism(4) // 8 goroutines on 2 cores; the pool has 4 connections
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				serve(b, e.Handler, token)
			}
		})
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
	})
	if n := lab.Requests("/cluster/resources") + edge.Requests("/cluster/resources"); n != 2 {
		b.Fatalf("%d Proxmox calls with a warm cache", n)
	}
}
