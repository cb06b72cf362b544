package proxmox

import (
	"bytes"
	"encoding/json"
	"math"
	"strconv"
)

// Tolerant scalar types for decoding Proxmox JSON.
//
// Proxmox's Perl JSON encoder emits whatever type a scalar last had: numbers
// arrive as strings ("vmid":"101"), documented integers arrive as floats
// (LXC cpulimit 1.5 -> "maxcpu":1.5), booleans as 0/1, "1", true, and any
// field may be null or missing. These types accept all of that. They never
// return an error (which would abort encoding/json for the whole element);
// instead a value of the wrong shape sets bad, the field stays zero, and the
// caller counts the element as partially decoded.

// fNum accepts numbers, numeric strings, booleans (1/0) and null.
type fNum struct {
	f   float64
	i   int64
	bad bool
}

func (n *fNum) UnmarshalJSON(b []byte) error {
	*n = fNum{}
	if len(b) == 0 {
		return nil
	}
	switch b[0] {
	case 'n': // null
		return nil
	case 't':
		n.f, n.i = 1, 1
		return nil
	case 'f':
		return nil
	case '"':
		s, ok := unquoteFast(b)
		if !ok {
			n.bad = true
			return nil
		}
		s = bytes.TrimSpace(s)
		if len(s) == 0 {
			return nil
		}
		n.parse(s)
		return nil
	case '{', '[':
		n.bad = true
		return nil
	}
	n.parse(b)
	return nil
}

func (n *fNum) parse(s []byte) {
	// string(s) in these calls does not escape (strconv copies on error), so
	// short inputs don't allocate. Try ParseInt only for integer-looking
	// literals: a failed parse allocates its error.
	if bytes.IndexAny(s, ".eE") < 0 {
		if i, err := strconv.ParseInt(string(s), 10, 64); err == nil {
			n.i, n.f = i, float64(i)
			return
		}
	}
	f, err := strconv.ParseFloat(string(s), 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		n.bad = true
		return
	}
	n.f = f
	switch {
	case f >= math.MaxInt64:
		n.i = math.MaxInt64
	case f <= math.MinInt64:
		n.i = math.MinInt64
	default:
		n.i = int64(f)
	}
}

// integral reports whether the value has no fractional part (vmid, nodeid).
func (n fNum) integral() bool { return n.f == math.Trunc(n.f) }

// fStr accepts strings, numbers (kept as their literal text) and null.
type fStr struct {
	s   string
	bad bool
}

func (v *fStr) UnmarshalJSON(b []byte) error {
	*v = fStr{}
	if len(b) == 0 {
		return nil
	}
	switch b[0] {
	case 'n':
		return nil
	case '"':
		if s, ok := unquoteFast(b); ok {
			v.s = intern(s)
			return nil
		}
		// Escapes present: let encoding/json do it properly.
		if err := json.Unmarshal(b, &v.s); err != nil {
			v.bad = true
		}
		return nil
	case 't', 'f', '{', '[':
		v.bad = true
		return nil
	}
	v.s = string(b) // a number
	return nil
}

// fBool accepts true/false, numbers (non-zero = true), common boolean
// strings and null.
type fBool struct {
	b   bool
	bad bool
	set bool // the key was present
}

func (v *fBool) UnmarshalJSON(b []byte) error {
	*v = fBool{set: true}
	if len(b) == 0 {
		return nil
	}
	switch b[0] {
	case 'n', 'f':
		return nil
	case 't':
		v.b = true
		return nil
	case '"':
		s, ok := unquoteFast(b)
		if !ok {
			v.bad = true
			return nil
		}
		switch string(bytes.ToLower(bytes.TrimSpace(s))) {
		case "1", "true", "yes", "on":
			v.b = true
		case "", "0", "false", "no", "off":
		default:
			v.bad = true
		}
		return nil
	case '{', '[':
		v.bad = true
		return nil
	}
	f, err := strconv.ParseFloat(string(b), 64)
	if err != nil {
		v.bad = true
		return nil
	}
	v.b = f != 0
	return nil
}

// unquoteFast returns the contents of a JSON string literal without escapes.
// ok is false if the literal contains a backslash (needs real unquoting) or
// is malformed.
func unquoteFast(b []byte) ([]byte, bool) {
	if len(b) < 2 || b[0] != '"' || b[len(b)-1] != '"' {
		return nil, false
	}
	s := b[1 : len(b)-1]
	if bytes.IndexByte(s, '\\') >= 0 {
		return nil, false
	}
	return s, true
}

// badSet collects the names of fields that had a value of the wrong shape.
type badSet []string

func (bs *badSet) num(name string, v fNum) {
	if v.bad {
		*bs = append(*bs, name)
	}
}

func (bs *badSet) str(name string, v fStr) {
	if v.bad {
		*bs = append(*bs, name)
	}
}

func (bs *badSet) boolean(name string, v fBool) {
	if v.bad {
		*bs = append(*bs, name)
	}
}

// intern returns shared strings for the values that repeat in every entry,
// saving an allocation per field on large resource lists. The switch on
// string(b) does not allocate.
func intern(b []byte) string {
	switch string(b) {
	case "":
		return ""
	case "qemu":
		return "qemu"
	case "lxc":
		return "lxc"
	case "node":
		return "node"
	case "storage":
		return "storage"
	case "pool":
		return "pool"
	case "sdn":
		return "sdn"
	case "network":
		return "network"
	case "running":
		return "running"
	case "stopped":
		return "stopped"
	case "paused":
		return "paused"
	case "unknown":
		return "unknown"
	case "online":
		return "online"
	case "offline":
		return "offline"
	case "available":
		return "available"
	case "ok":
		return "ok"
	case "started":
		return "started"
	case "zone":
		return "zone"
	case "fabric":
		return "fabric"
	}
	return string(b)
}
