package pvesim

import "time"

// Call is one request as the simulator received it.
type Call struct {
	Path string    // API path after /api2/json, as Requests counts it
	At   time.Time // arrival
}

// maxCalls bounds the call log; the oldest calls are dropped beyond it.
const maxCalls = 100_000

// Calls returns the requests received for path (all paths when ""), in
// arrival order, so a test can see when each call came, not only how many.
func (s *Sim) Calls(path string) []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	want := ""
	if path != "" {
		want = normalizeAPIPath(path)
	}
	var out []Call
	for _, c := range s.calls {
		if want == "" || c.Path == want {
			out = append(out, c)
		}
	}
	return out
}

// logCall records a call; s.mu is held.
func (s *Sim) logCall(key string) {
	if len(s.calls) >= maxCalls {
		s.calls = append(s.calls[:0], s.calls[len(s.calls)/2:]...)
	}
	s.calls = append(s.calls, Call{Path: key, At: time.Now()})
}
