package fleet_test

import (
	"context"
	"net"
	"net/url"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pvetenant/backend/infra/functest"
	"github.com/pvetenant/backend/infra/pvesim"
	"github.com/pvetenant/backend/infra/testdb"
)

// delayProxy forwards TCP to target, holding every chunk for oneWay in each
// direction: a database round trip costs 2 x oneWay more, as from Lambda to
// Supabase's pooler in the same region. Order is kept, so pipelined
// messages stay pipelined.
func delayProxy(tb testing.TB, target string, oneWay time.Duration) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				u, err := net.Dial("tcp", target)
				if err != nil {
					c.Close()
					return
				}
				go pipe(u, c, oneWay)
				pipe(c, u, oneWay)
			}()
		}
	}()
	return ln.Addr().String()
}

func pipe(dst, src net.Conn, delay time.Duration) {
	type chunk struct {
		b  []byte
		at time.Time
	}
	ch := make(chan chunk, 1024)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer dst.Close()
		for c := range ch {
			time.Sleep(time.Until(c.at))
			if _, err := dst.Write(c.b); err != nil {
				return
			}
		}
	}()
	buf := make([]byte, 64<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			ch <- chunk{append([]byte(nil), buf[:n]...), time.Now().Add(delay)}
		}
		if err != nil {
			break // EOF or closed: end this direction
		}
	}
	close(ch)
	wg.Wait()
}

// BenchmarkCachedLiveStatsWith1msDatabase measures a cached get-live-stats
// over real HTTP, one request at a time, with 1 ms added to every database
// round trip (FLEET_BIN selects another build for the before figure).
func BenchmarkCachedLiveStatsWith1msDatabase(b *testing.B) {
	for _, oneWay := range []time.Duration{0, 500 * time.Microsecond} {
		b.Run("db-rtt+"+(2*oneWay).String(), func(b *testing.B) { benchCachedLiveStats(b, oneWay) })
	}
}

func benchCachedLiveStats(b *testing.B, oneWay time.Duration) {
	db := testdb.Fresh(b)
	u, err := url.Parse(db.URL)
	if err != nil {
		b.Fatal(err)
	}
	w := newWorld(b, db.URL, db.Pool)
	u.Host = delayProxy(b, u.Host, oneWay)
	w.url = u.String()
	w.addServer(b, db.Pool, functest.TenantA, "lab", pvesim.NewTestSim(b, pvesim.MustPreset("cluster3")))
	w.addServer(b, db.Pool, functest.TenantA, "edge", pvesim.NewTestSim(b, pvesim.MustPreset("standalone")))
	p := w.start(b, "STATS_CACHE_TTL=1h")
	a := newAnswers(b)
	body := map[string]any{"tenantId": functest.TenantA}
	for i := 0; i < 20; i++ { // warm: caches filled, connections open
		if status, out, err := a.call(p, functest.ViewerA, "tenant-stats", body); err != nil || status != 200 {
			b.Fatalf("%d %v %s", status, err, out)
		}
	}
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		start := time.Now()
		if status, out, err := a.call(p, functest.ViewerA, "tenant-stats", body); err != nil || status != 200 {
			b.Fatalf("%d %v %s", status, err, out)
		}
		lat = append(lat, time.Since(start))
	}
	b.StopTimer()
	// Calibration: what one database round trip costs through the proxy on
	// this machine right now (select 1 on a warm connection).
	conn, err := pgx.Connect(context.Background(), w.url)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close(context.Background())
	rtt := make([]time.Duration, 0, 200)
	for i := 0; i < 200; i++ {
		start := time.Now()
		if _, err := conn.Exec(context.Background(), "select 1"); err != nil {
			b.Fatal(err)
		}
		rtt = append(rtt, time.Since(start))
	}
	sort.Slice(rtt, func(i, j int) bool { return rtt[i] < rtt[j] })
	b.ReportMetric(float64(rtt[len(rtt)/2].Microseconds())/1000, "db-roundtrip-p50-ms")
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
}
