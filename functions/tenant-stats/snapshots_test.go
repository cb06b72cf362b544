package tenantstats_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"reflect"
	"sync"
	"testing"
	"time"

	tenantstats "github.com/pvetenant/backend/functions/tenant-stats"
	"github.com/pvetenant/backend/infra/functest"
	"github.com/pvetenant/backend/infra/pvesim"
	"github.com/pvetenant/backend/infra/sweep"
	"github.com/pvetenant/backend/shared/setup"
)

// instance is a second warm instance of the function on w's database: its
// own memory (first-level cache, clients, pool), the same snapshot store.
func (w world) instance(t *testing.T) http.Handler {
	t.Helper()
	logs := &functest.SyncBuffer{}
	d, err := setup.Load(context.Background(), w.e.Config, tenantstats.Needs, slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(d.Close)
	t.Cleanup(func() { sweep.Record(t.Name()+"-instance-logs", []byte(logs.String())) })
	return tenantstats.New(d)
}

func callOn(t *testing.T, h http.Handler, user string) tenantstats.LiveTenantStats {
	t.Helper()
	b, _ := json.Marshal(obj{"tenantId": functest.TenantA})
	req := httptest.NewRequest(http.MethodPost, "/functions/v1/"+fn, bytes.NewReader(b))
	req.Header.Set("Authorization", "Bearer "+functest.Token(t, user))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	recordAnswer(t, rec.Body.Bytes())
	if rec.Code != 200 {
		t.Fatalf("status %d: %s", rec.Code, rec.Body.String())
	}
	var body struct {
		Stats tenantstats.LiveTenantStats `json:"stats"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
		t.Fatal(err)
	}
	return body.Stats
}

// Another instance answers from the snapshot the first one stored, saying
// how old it is, and an edited server is fetched afresh by whoever asks.
func TestInstancesShareSnapshots(t *testing.T) {
	w := newWorld(t, time.Minute)
	first := liveStats(t, functest.Expect(t, w.call(functest.ViewerA, ""), 200))
	other := w.instance(t)
	time.Sleep(20 * time.Millisecond)
	second := callOn(t, other, functest.AdminA)
	if lab, edge := w.resourceCalls(); lab != 1 || edge != 1 {
		t.Fatalf("/cluster/resources called %d and %d times across two instances, want once each", lab, edge)
	}
	if !reflect.DeepEqual(numbers(first), numbers(second)) || first.LastUpdated != second.LastUpdated {
		t.Fatalf("the other instance's answer differs:\n%+v\n%+v", first, second)
	}
	for _, h := range second.ServerStatus {
		if h.Status != "online" || h.AgeMs < 20 {
			t.Fatalf("snapshot from the store should be online with its age: %+v", second.ServerStatus)
		}
	}
	bump(t, w.e, w.labID)
	callOn(t, other, functest.ViewerA)
	functest.Expect(t, w.call(functest.ViewerA, ""), 200)
	if lab, edge := w.resourceCalls(); lab != 2 || edge != 1 {
		t.Fatalf("after the edit: %d and %d calls, want 2 and 1", lab, edge)
	}
}

// A hanging server is asked once by the whole fleet: the instance holding
// the lease waits out the per-server timeout, the others wait for its
// answer, and all report the timeout; later requests read the cached failure.
func TestHangingServerAskedOnceAcrossInstances(t *testing.T) {
	w := newWorld(t, time.Minute)
	w.lab.SetFault(pvesim.Fault{PathPrefix: "/cluster/resources", Hang: true})
	handlers := []http.Handler{w.e.Handler, w.instance(t), w.instance(t)}
	var wg sync.WaitGroup
	got := make([]tenantstats.LiveTenantStats, len(handlers))
	for i, h := range handlers {
		wg.Add(1)
		go func(i int, h http.Handler) {
			defer wg.Done()
			got[i] = callOn(t, h, functest.ViewerA)
		}(i, h)
	}
	wg.Wait()
	for _, h := range handlers {
		got = append(got, callOn(t, h, functest.ViewerA))
	}
	if lab, _ := w.resourceCalls(); lab != 1 {
		t.Fatalf("the hanging server was asked %d times by three instances, want once", lab)
	}
	for i, s := range got {
		if hb := healthByName(s)["lab"]; hb["status"] != "timeout" {
			t.Fatalf("answer %d: lab %v", i, hb)
		}
	}
}

var instanceAnswers sync.Map // *testing.T -> *functest.SyncBuffer

// recordAnswer keeps what a second instance answered for the secrets sweep.
func recordAnswer(t *testing.T, body []byte) {
	b, loaded := instanceAnswers.LoadOrStore(t, &functest.SyncBuffer{})
	buf := b.(*functest.SyncBuffer)
	if !loaded {
		t.Cleanup(func() { sweep.Record(t.Name()+"-instance-answers", []byte(buf.String())); instanceAnswers.Delete(t) })
	}
	_, _ = buf.Write(append(append([]byte(nil), body...), '\n'))
}
