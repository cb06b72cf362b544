// Package emftest decodes the EMF lines tests capture and checks each
// against the fields CloudWatch requires.
package emftest

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/pvetenant/backend/shared/metrics"
)

// Line is one EMF line decoded, with the fields CloudWatch requires
// (CloudWatch_Embedded_Metric_Format_Specification: root node with _aws,
// Timestamp in ms, CloudWatchMetrics[{Namespace, Dimensions, Metrics[{Name,
// Unit}]}], every dimension and metric value as a root member).
type Line struct {
	AWS struct {
		Timestamp         *int64 `json:"Timestamp"`
		CloudWatchMetrics []struct {
			Namespace  string     `json:"Namespace"`
			Dimensions [][]string `json:"Dimensions"`
			Metrics    []struct {
				Name string `json:"Name"`
				Unit string `json:"Unit"`
			} `json:"Metrics"`
		} `json:"CloudWatchMetrics"`
	} `json:"_aws"`
	Root map[string]any `json:"-"`
}

// Parse decodes every line of out and checks each against the spec.
func Parse(t testing.TB, out string) []Line {
	t.Helper()
	var lines []Line
	for _, raw := range strings.Split(strings.TrimSpace(out), "\n") {
		if raw == "" {
			continue
		}
		var l Line
		if err := json.Unmarshal([]byte(raw), &l); err != nil {
			t.Fatalf("not JSON: %s", raw)
		}
		_ = json.Unmarshal([]byte(raw), &l.Root)
		if l.AWS.Timestamp == nil || *l.AWS.Timestamp < time.Now().Add(-time.Hour).UnixMilli() {
			t.Fatalf("_aws.Timestamp missing or not epoch ms: %s", raw)
		}
		if len(l.AWS.CloudWatchMetrics) != 1 {
			t.Fatalf("want one metric directive: %s", raw)
		}
		d := l.AWS.CloudWatchMetrics[0]
		if d.Namespace != metrics.Namespace || len(d.Metrics) == 0 {
			t.Fatalf("directive %+v", d)
		}
		for _, set := range d.Dimensions {
			for _, k := range set {
				if _, ok := l.Root[k].(string); !ok {
					t.Fatalf("dimension %s has no string value at the root: %s", k, raw)
				}
			}
		}
		for _, m := range d.Metrics {
			if metrics.Emitted[m.Name] != m.Unit {
				t.Fatalf("metric %s unit %q, want %q", m.Name, m.Unit, metrics.Emitted[m.Name])
			}
			switch v := l.Root[m.Name].(type) {
			case float64:
			case []any:
				if len(v) == 0 || len(v) > 100 {
					t.Fatalf("metric %s has %d values", m.Name, len(v))
				}
			default:
				t.Fatalf("metric %s has no value at the root: %s", m.Name, raw)
			}
		}
		lines = append(lines, l)
	}
	return lines
}

// Sum adds up metric name over the lines of function.
func Sum(lines []Line, function, name string) float64 {
	var s float64
	for _, l := range lines {
		if l.Root[metrics.Dimension] != function {
			continue
		}
		switch v := l.Root[name].(type) {
		case float64:
			s += v
		case []any:
			for _, x := range v {
				f, _ := x.(float64)
				s += f
			}
		}
	}
	return s
}

// Samples counts the values of metric name over the lines of function.
func Samples(lines []Line, function, name string) int {
	n := 0
	for _, l := range lines {
		if l.Root[metrics.Dimension] != function {
			continue
		}
		switch v := l.Root[name].(type) {
		case float64:
			n++
		case []any:
			n += len(v)
		}
	}
	return n
}
