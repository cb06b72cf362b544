package statscache

import (
	"context"
	"sync/atomic"
	"testing"
	"time"
)

// A result read elsewhere earlier (a second-level store) keeps its own
// Fetched and expires TTL after it, not TTL after it reached this cache.
func TestGetResultExpiresFromItsOwnFetchedTime(t *testing.T) {
	c, clk := newFake(10*time.Second, 0)
	var n atomic.Int32
	fetch := func(context.Context) Result[int] {
		n.Add(1)
		return Result[int]{Value: 7, Fetched: clk.Now().Add(-8 * time.Second), Took: time.Millisecond}
	}
	r, err := c.GetResult(context.Background(), "k", fetch)
	if err != nil || r.Value != 7 || r.Cached || r.Age(clk.Now()) != 8*time.Second {
		t.Fatalf("first: %+v %v", r, err)
	}
	clk.Add(time.Second)
	if r, _ = c.GetResult(context.Background(), "k", fetch); !r.Cached || n.Load() != 1 {
		t.Fatalf("9 s old: %+v, %d fetches", r, n.Load())
	}
	clk.Add(time.Second)
	if r, _ = c.GetResult(context.Background(), "k", fetch); r.Cached || n.Load() != 2 {
		t.Fatalf("10 s old must be fetched again: %+v, %d fetches", r, n.Load())
	}
}

// A result-returning fetch that panics is reported, not cached, and does not
// crash the process.
func TestGetResultPanics(t *testing.T) {
	c, _ := newFake(time.Minute, 0)
	r, err := c.GetResult(context.Background(), "k", func(context.Context) Result[int] { panic("boom") })
	if err != nil || r.Err == nil {
		t.Fatalf("%+v %v", r, err)
	}
	if c.Len() != 0 {
		t.Fatal("a panic was cached")
	}
}
