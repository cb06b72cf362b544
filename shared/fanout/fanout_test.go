package fanout

import (
	"context"
	"errors"
	"testing"

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
	got := Runner{}.Each(context.Background(), servers, func(ctx context.Context, i int, c *proxmox.Client) error {
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
	got := Runner{}.Each(context.Background(), []targets.Server{s}, func(ctx context.Context, i int, c *proxmox.Client) error {
		called = true
		return nil
	})
	if called || got[0].Status != proxmox.StatusAuthError || got[0].Error != "no credentials" {
		t.Fatalf("called=%v health=%+v", called, got[0])
	}
}
