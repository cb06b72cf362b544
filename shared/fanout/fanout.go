// Package fanout queries many Proxmox servers at once, a bounded number at a
// time, each under its own budget (proxmox.Options.Timeout, applied by the
// server's client), so that one slow or broken server costs its own entry in
// the answer and never the answer itself.
package fanout

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"sync"
	"time"

	"github.com/pvetenant/backend/shared/proxmox"
	"github.com/pvetenant/backend/shared/targets"
)

// DefaultLimit is how many servers are queried at the same time: enough for
// a large tenant's servers to answer in one round (a second round doubles the
// answer time), few enough that one request's connections stay modest.
const DefaultLimit = 64

// ErrPanic wraps a panic recovered from one server's callback.
var ErrPanic = errors.New("internal error while reading this server's answer")

// Health is the contract's ServerHealth.
type Health struct {
	ID        string         `json:"id"`
	Name      string         `json:"name"`
	Status    proxmox.Status `json:"status"`
	LatencyMs int64          `json:"latencyMs"`
	// AgeMs is how old the Proxmox answer (or failure) behind this entry
	// is, in milliseconds: 0 when read for this request, up to the cache TTL
	// (a little more while another instance refreshes it) when cached.
	AgeMs int64  `json:"ageMs"`
	Error string `json:"error,omitempty"`
	// Warning is a code for an online server whose answer is incomplete
	// (e.g. "limited_privileges"), WarningMessage the sentence for it.
	Warning        string `json:"warning,omitempty"`
	WarningMessage string `json:"warningMessage,omitempty"`
	Cluster               // issue 14: endpoint, endpoints, quorate, sameClusterAs (endpoints.go)
}

// Online reports whether the server answered.
func (h Health) Online() bool { return h.Status == proxmox.StatusOnline }

// Runner runs per-server work.
type Runner struct {
	Proxmox proxmox.Options
	Limit   int
	Clients *Clients // reused across requests when set
}

// each calls fn once per server, concurrently (at most Limit at a time), each
// call under the server's budget. It returns when every call
// has returned, with one Health per server in the order given. A server with
// a Problem (no credentials, unverified TLS) is reported without a call.
func (r Runner) each(ctx context.Context, servers []targets.Server, fn func(ctx context.Context, i int, c *proxmox.Client) error) []Health {
	limit := r.Limit
	if limit <= 0 {
		limit = DefaultLimit
	}
	out := make([]Health, len(servers))
	sem := make(chan struct{}, limit)
	var wg sync.WaitGroup
	for i := range servers {
		s := servers[i]
		out[i] = Health{ID: s.ID, Name: s.Name}
		if s.Problem != "" {
			out[i].Status, out[i].Error = s.ProblemStatus, s.Problem
			continue
		}
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			select {
			case sem <- struct{}{}:
				defer func() { <-sem }()
			case <-ctx.Done():
				out[i].Status, out[i].Error = proxmox.StatusTimeout, "the request ended before this server's turn"
				return
			}
			start := time.Now()
			via, err := r.call(ctx, s, func(ctx context.Context, c *proxmox.Client) error { return fn(ctx, i, c) })
			out[i].LatencyMs = time.Since(start).Milliseconds()
			out[i].setVia(via)
			out[i].Status = proxmox.Classify(err)
			switch {
			case errors.Is(err, ErrPanic):
				out[i].Error = ErrPanic.Error()
			case err != nil:
				out[i].Error = proxmox.Describe(err)
			}
		}(i)
	}
	wg.Wait()
	return out
}

// One runs fn against a single server under the server's budget.
func (r Runner) One(ctx context.Context, s targets.Server, fn func(ctx context.Context, c *proxmox.Client) error) error {
	_, err := r.call(ctx, s, fn)
	return err
}

// call runs fn through the server's endpoints, under its budget
// (proxmox.Multi.Do applies it). A panic in fn (a decoder bug meeting an
// answer nobody foresaw) becomes this server's error instead of ending the
// process, which on the local server hosts all four functions.
func (r Runner) call(ctx context.Context, s targets.Server, fn func(ctx context.Context, c *proxmox.Client) error) (via proxmox.Via, err error) {
	defer func() {
		if p := recover(); p != nil {
			if l := r.Proxmox.Logger; l != nil {
				l.Error("panic in per-server call", "server_id", s.ID, "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
			}
			err = ErrPanic
		}
	}()
	c, release, err := r.Clients.get(s, r.Proxmox)
	if err != nil {
		return proxmox.Via{}, err
	}
	defer release()
	return c.Do(ctx, fn)
}

// Clients keeps one proxmox.Client per server across requests of a warm
// process, so keep-alive connections and login tickets are reused. Entries
// are keyed by server id and remember the configuration they were built for
// (targets.Server.Key): an edited server (new credentials version, host,
// port, TLS setting or endpoints) replaces its entry. A nil *Clients makes a
// fresh client per call and closes its connections after.
type Clients struct {
	mu  sync.Mutex
	max int
	m   map[string]*entry // by server id
}

type entry struct {
	config string // the Key of the configuration c was built for
	c      *proxmox.Multi
	used   time.Time
}

// NewClients returns a cache of at most max clients.
func NewClients(max int) *Clients {
	return &Clients{max: max, m: map[string]*entry{}}
}

func (cs *Clients) get(s targets.Server, o proxmox.Options) (*proxmox.Multi, func(), error) {
	if cs == nil {
		c := s.Multi(o)
		return c, c.CloseIdleConnections, nil
	}
	config := s.Key()
	cs.mu.Lock()
	defer cs.mu.Unlock()
	e, ok := cs.m[s.ID]
	switch {
	case ok && e.config == config:
		e.used = time.Now()
		return e.c, func() {}, nil
	case ok:
		e.c.CloseIdleConnections() // built for an older configuration
	case len(cs.m) >= cs.max:
		cs.evictOldest()
	}
	c := s.Multi(o)
	cs.m[s.ID] = &entry{config: config, c: c, used: time.Now()}
	return c, func() {}, nil
}

// evictOldest drops the least recently used client. Caller holds mu.
func (cs *Clients) evictOldest() {
	var oldest string
	for id, e := range cs.m {
		if oldest == "" || e.used.Before(cs.m[oldest].used) {
			oldest = id
		}
	}
	if e := cs.m[oldest]; e != nil {
		e.c.CloseIdleConnections()
		delete(cs.m, oldest)
	}
}

// Close closes every cached client's idle connections.
func (cs *Clients) Close() {
	if cs == nil {
		return
	}
	cs.mu.Lock()
	defer cs.mu.Unlock()
	for k, e := range cs.m {
		e.c.CloseIdleConnections()
		delete(cs.m, k)
	}
}
