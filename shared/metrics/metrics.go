// Package metrics writes CloudWatch Embedded Metric Format (EMF) lines to
// stdout. Lambda ships stdout to CloudWatch Logs, which turns each EMF line
// into metric values: no PutMetricData call, no extra latency, no extra IAM
// permission. Spec: https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html
package metrics

import (
	"encoding/json"
	"io"
	"sync"
	"time"
)

// Namespace is the CloudWatch namespace of every metric; template.yaml's
// alarms name it.
const Namespace = "pvetenant"

// Every value is published twice: per function (dimension Function) and
// for the whole service (dimension Service, always Namespace), which the
// alarms read so that one alarm covers every function.
const (
	Dimension        = "Function"
	ServiceDimension = "Service"
)

// Units used (CloudWatch's unit names).
const (
	Count        = "Count"
	Milliseconds = "Milliseconds"
)

// Request metrics, one set per finished request (httpapi).
const (
	Requests = "Requests" // every answered request, preflights excluded
	Errors4x = "Errors4xx"
	Errors5x = "Errors5xx"
	Duration = "Duration" // milliseconds from receipt to the answer written
)

// tenant-stats metrics, one set per polled request.
const (
	ServersQueried = "ServersQueried" // active servers the request covered
	ServersOffline = "ServersOffline" // of those, without a usable answer (fresh or cached failure)
	CacheHits      = "CacheHits"      // answers taken from the per-server cache
	CacheMisses    = "CacheMisses"    // answers that needed a Proxmox call
	ProxmoxErrors  = "ProxmoxErrors"  // Proxmox calls made for this request that failed
	ProxmoxLatency = "ProxmoxLatency" // per Proxmox call made for this request, ms
)

// Emitted lists every metric the code emits with its unit: template tests
// check that alarms name only these.
var Emitted = map[string]string{
	Requests: Count, Errors4x: Count, Errors5x: Count, Duration: Milliseconds,
	ServersQueried: Count, ServersOffline: Count, CacheHits: Count, CacheMisses: Count,
	ProxmoxErrors: Count, ProxmoxLatency: Milliseconds,
}

var (
	mu  sync.Mutex
	out io.Writer = io.Discard
	now           = time.Now
)

// SetOutput sets where lines go and returns a function restoring the
// previous writer. Lines are discarded until then: setup.MustLoad (the
// Lambda main) sends them to stdout; the local server and tests keep their
// output clean unless they ask.
func SetOutput(w io.Writer) (restore func()) {
	mu.Lock()
	prev := out
	out = w
	mu.Unlock()
	return func() { mu.Lock(); out = prev; mu.Unlock() }
}

// Value is one metric in a line: a single value or several samples.
type Value struct {
	Name   string
	Unit   string
	Values []float64
}

// Emit writes one EMF line for function with values. Samples of one metric
// travel as an array (EMF allows up to 100 per metric); an empty metric is
// left out.
func Emit(function string, values ...Value) {
	mu.Lock()
	off := out == io.Discard
	mu.Unlock()
	if off {
		return // nobody listens: skip the encoding
	}
	type def struct {
		Name string `json:"Name"`
		Unit string `json:"Unit"`
	}
	root := map[string]any{Dimension: function, ServiceDimension: Namespace}
	defs := make([]def, 0, len(values))
	for _, v := range values {
		switch n := len(v.Values); {
		case n == 0:
			continue
		case n == 1:
			root[v.Name] = v.Values[0]
		default:
			if n > 100 {
				v.Values = v.Values[:100]
			}
			root[v.Name] = v.Values
		}
		defs = append(defs, def{v.Name, v.Unit})
	}
	if len(defs) == 0 {
		return
	}
	root["_aws"] = map[string]any{
		"Timestamp": now().UnixMilli(),
		"CloudWatchMetrics": []any{map[string]any{
			"Namespace":  Namespace,
			"Dimensions": [][]string{{Dimension}, {ServiceDimension}},
			"Metrics":    defs,
		}},
	}
	b, err := json.Marshal(root)
	if err != nil {
		return
	}
	b = append(b, '\n')
	mu.Lock()
	_, _ = out.Write(b) // one Write per line, so lines never interleave
	mu.Unlock()
}

// Request records one finished request: its status and duration.
func Request(function string, status int, took time.Duration) {
	var e4, e5 float64
	switch {
	case status >= 500:
		e5 = 1
	case status >= 400:
		e4 = 1
	}
	Emit(function,
		Value{Requests, Count, []float64{1}},
		Value{Errors4x, Count, []float64{e4}},
		Value{Errors5x, Count, []float64{e5}},
		Value{Duration, Milliseconds, []float64{float64(took.Microseconds()) / 1000}},
	)
}

// Stats is what one tenant-stats request saw.
type Stats struct {
	Queried   int             // active servers covered
	Offline   int             // without a usable answer
	CacheHits int             // answers from the cache
	Fetched   []time.Duration // each Proxmox call made for this request
	Errors    int             // of those calls, how many failed
}

// TenantStats records one tenant-stats request.
func TenantStats(function string, s Stats) {
	lat := make([]float64, len(s.Fetched))
	for i, d := range s.Fetched {
		lat[i] = float64(d.Microseconds()) / 1000
	}
	Emit(function,
		Value{ServersQueried, Count, []float64{float64(s.Queried)}},
		Value{ServersOffline, Count, []float64{float64(s.Offline)}},
		Value{CacheHits, Count, []float64{float64(s.CacheHits)}},
		Value{CacheMisses, Count, []float64{float64(len(s.Fetched))}},
		Value{ProxmoxErrors, Count, []float64{float64(s.Errors)}},
		Value{ProxmoxLatency, Milliseconds, lat},
	)
}
