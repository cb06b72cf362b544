package fanout

import (
	"context"

	"github.com/pvetenant/backend/shared/proxmox"
	"github.com/pvetenant/backend/shared/targets"
)

// Result is one server's typed answer beside its health.
type Result[T any] struct {
	Health Health
	// Value is what fn returned for the server: its answer when
	// Health.Online(); with an error, whatever fn returned beside it (what
	// a caller needs to describe the failure, e.g. how old a cached one is),
	// usually the zero value. It is the zero value when fn was never called
	// (a Problem, the request ended first) or panicked.
	Value T
}

// Collect calls fn once per server, concurrently (at most Runner.Limit at a
// time), and returns fn's typed value for each server, in the order given,
// beside its health. A panic in fn is that server's status: error.
func Collect[T any](ctx context.Context, r Runner, servers []targets.Server, fn func(ctx context.Context, s targets.Server, c *proxmox.Client) (T, error)) []Result[T] {
	values := make([]T, len(servers))
	health := r.each(ctx, servers, func(ctx context.Context, i int, c *proxmox.Client) error {
		// Endpoints are tried one after another (proxmox.Multi), never at
		// once, so values[i] has one writer at a time; the last endpoint
		// tried gives the value, and a panic leaves none.
		var zero T
		values[i] = zero
		v, err := fn(ctx, servers[i], c)
		values[i] = v
		return err
	})
	out := make([]Result[T], len(servers))
	for i := range servers {
		out[i] = Result[T]{Health: health[i], Value: values[i]}
	}
	return out
}

// Healths is the health of each result, for an answer's "servers".
func Healths[T any](rs []Result[T]) []Health {
	out := make([]Health, len(rs))
	for i := range rs {
		out[i] = rs[i].Health
	}
	return out
}
