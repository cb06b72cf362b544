package fanout

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/pvetenant/backend/shared/proxmox"
	"github.com/pvetenant/backend/shared/targets"
)

func server(id string) targets.Server {
	return targets.Server{ID: id, Name: id, Target: proxmox.Target{
		Host: "127.0.0.1", Port: 8006, TokenID: "u@pve!t1", TokenSecret: "s", VerifyTLS: true,
	}}
}

// A panic in one server's callback is that server's error; the others'
// answers and the process survive.
func TestEachRecoversPanicPerServer(t *testing.T) {
	servers := []targets.Server{server("a"), server("b"), server("c")}
	got := Runner{}.each(context.Background(), servers, func(ctx context.Context, i int, c *proxmox.Client) error {
		if i == 1 {
			var m map[string]int
			m["boom"]++ // nil map write: a real runtime panic
		}
		return nil
	})
	for i, h := range got {
		if i == 1 {
			if h.Status != proxmox.StatusError || h.Error != ErrPanic.Error() {
				t.Fatalf("server b: got %+v, want status error with %q", h, ErrPanic.Error())
			}
			continue
		}
		if h.Status != proxmox.StatusOnline || h.Error != "" {
			t.Fatalf("server %s: got %+v, want online", h.ID, h)
		}
	}
}

func TestOneRecoversPanic(t *testing.T) {
	err := Runner{}.One(context.Background(), server("a"), func(ctx context.Context, c *proxmox.Client) error {
		panic("decoder bug")
	})
	if !errors.Is(err, ErrPanic) {
		t.Fatalf("got %v, want ErrPanic", err)
	}
}

// A server with a Problem is reported as such and never called.
func TestEachSkipsServersWithProblem(t *testing.T) {
	s := server("a")
	s.Problem, s.ProblemStatus = "no credentials", proxmox.StatusAuthError
	called := false
	got := Runner{}.each(context.Background(), []targets.Server{s}, func(ctx context.Context, i int, c *proxmox.Client) error {
		called = true
		return nil
	})
	if called || got[0].Status != proxmox.StatusAuthError || got[0].Error != "no credentials" {
		t.Fatalf("called=%v health=%+v", called, got[0])
	}
}

// Collect keeps each server's typed value in the order given; a panic in one
// server's fn is that server's error with no value, and costs the others
// nothing. A failure keeps what fn returned beside it.
func TestCollectTypedValuesInOrder(t *testing.T) {
	servers := []targets.Server{server("a"), server("b"), server("c"), server("d"), server("e")}
	servers[3].Problem, servers[3].ProblemStatus = "no credentials", proxmox.StatusAuthError
	failed := proxmox.StoredError(proxmox.StatusTimeout, "timed out after 6s")
	got := Collect(context.Background(), Runner{}, servers, func(ctx context.Context, s targets.Server, c *proxmox.Client) (string, error) {
		switch s.ID {
		case "b":
			var m map[string]int
			m["boom"]++ // a real runtime panic
		case "e":
			return "seen 3s ago", failed
		}
		return "value of " + s.ID, nil
	})
	if len(got) != len(servers) {
		t.Fatalf("%d results for %d servers", len(got), len(servers))
	}
	for i, want := range []struct {
		value  string
		status proxmox.Status
		err    string
	}{
		{"value of a", proxmox.StatusOnline, ""},
		{"", proxmox.StatusError, ErrPanic.Error()},
		{"value of c", proxmox.StatusOnline, ""},
		{"", proxmox.StatusAuthError, "no credentials"},
		{"seen 3s ago", proxmox.StatusTimeout, "timed out after 6s"},
	} {
		r := got[i]
		if r.Health.ID != servers[i].ID || r.Value != want.value || r.Health.Status != want.status || r.Health.Error != want.err {
			t.Errorf("server %s: got %+v, want value %q status %s error %q", servers[i].ID, r, want.value, want.status, want.err)
		}
	}
	if h := Healths(got); len(h) != len(servers) || h[2].ID != "c" || !h[2].Online() {
		t.Fatalf("Healths: %+v", h)
	}
}

// The client cache holds one entry per server: an edited server replaces
// its entry (no stale configuration kept beside it), and the least recently
// used server goes when the cache is full.
func TestClientsOneEntryPerServer(t *testing.T) {
	cs := NewClients(2)
	a, b, c := server("a"), server("b"), server("c")
	first, _, _ := cs.get(a, proxmox.Options{})
	if again, _, _ := cs.get(a, proxmox.Options{}); again != first {
		t.Fatal("the same configuration got a new client")
	}
	edited := a
	edited.CredentialsVersion++
	if got, _, _ := cs.get(edited, proxmox.Options{}); got == first {
		t.Fatal("an edited server kept its old client")
	}
	if len(cs.m) != 1 || cs.m["a"].config != edited.Key() {
		t.Fatalf("entries %v, want only a's new configuration", cs.m)
	}
	cs.get(b, proxmox.Options{})
	cs.m["a"].used = cs.m["b"].used.Add(-time.Second) // a is the least recently used
	cs.get(c, proxmox.Options{})
	if _, ok := cs.m["a"]; ok || len(cs.m) != 2 || cs.m["b"] == nil || cs.m["c"] == nil {
		t.Fatalf("entries %v, want b and c", cs.m)
	}
	cs.Close()
	if len(cs.m) != 0 {
		t.Fatalf("Close left %d entries", len(cs.m))
	}
}
