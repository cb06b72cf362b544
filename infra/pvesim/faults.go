package pvesim

import (
	"strings"
	"time"
)

// Fault describes misbehaviour injected before a request is handled. Several
// effects may be combined; the terminal ones are applied in this order:
// Hang, Unauthorized, Status. MalformedJSON only alters successful answers.
type Fault struct {
	// PathPrefix limits the fault to the API path (after /api2/json) equal
	// to it or below it, segment-wise: "/nodes/pve2" matches
	// "/nodes/pve2/status" but not "/nodes/pve20". Empty: all paths.
	PathPrefix string
	// Times applies the fault to that many matching requests, then removes
	// it (handy for retry tests). 0: until cleared.
	Times int

	// Latency delays the answer; a client giving up (context cancel) or
	// Close ends the wait early.
	Latency time.Duration
	// Hang never answers until the client gives up or the simulator closes
	// (then the connection is dropped without a response).
	Hang bool
	// Unauthorized answers every request with 401 "authentication failure".
	Unauthorized bool
	// Status answers with this HTTP status (e.g. 500, 503). 595 and 596
	// imitate pveproxy failing to reach a proxied node: no body, reason
	// "Connection refused" / "Connection timed out" by default.
	Status int
	// Reason overrides the status line text for Status.
	Reason string
	// MalformedJSON truncates successful JSON bodies so they do not parse.
	MalformedJSON bool
}

// SetFault replaces all active faults with f.
func (s *Sim) SetFault(f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = []Fault{normalizeFault(f)}
}

// AddFault adds f to the active faults; all matching faults apply.
func (s *Sim) AddFault(f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, normalizeFault(f))
}

// ClearFaults removes every fault. Node offline state and the odd guest are
// state, not faults, and are unaffected.
func (s *Sim) ClearFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = nil
}

// Faults returns the active faults.
func (s *Sim) Faults() []Fault {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Fault(nil), s.faults...)
}

func normalizeFault(f Fault) Fault {
	if f.PathPrefix != "" {
		f.PathPrefix = normalizeAPIPath(f.PathPrefix)
	}
	return f
}

// appliedFault is the merged effect of all faults matching one request.
type appliedFault struct {
	latency       time.Duration
	hang          bool
	unauthorized  bool
	status        int
	reason        string
	malformedJSON bool
}

// matchFaults merges matching faults and consumes their Times budget.
// Caller holds s.mu.
func (s *Sim) matchFaults(apiPath string) appliedFault {
	var out appliedFault
	kept := s.faults[:0]
	for _, f := range s.faults {
		match := f.PathPrefix == "" || f.PathPrefix == "/" || apiPath == f.PathPrefix ||
			strings.HasPrefix(apiPath, strings.TrimRight(f.PathPrefix, "/")+"/")
		if match {
			out.latency += f.Latency
			out.hang = out.hang || f.Hang
			out.unauthorized = out.unauthorized || f.Unauthorized
			if out.status == 0 && f.Status != 0 {
				out.status, out.reason = f.Status, f.Reason
			}
			out.malformedJSON = out.malformedJSON || f.MalformedJSON
			if f.Times > 0 {
				f.Times--
				if f.Times == 0 {
					continue // used up
				}
			}
		}
		kept = append(kept, f)
	}
	s.faults = kept
	return out
}
