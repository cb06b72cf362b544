package pvesim

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

// auth decorates a request.
type auth func(*http.Request)

func tokenAuth(id, secret string) auth {
	return func(r *http.Request) { r.Header.Set("Authorization", "PVEAPIToken="+id+"="+secret) }
}

var rootToken = tokenAuth(PresetTokenID, PresetTokenSecret)

func ticketAuth(ticket, csrf string) auth {
	return func(r *http.Request) {
		r.AddCookie(&http.Cookie{Name: "PVEAuthCookie", Value: url.QueryEscape(ticket)})
		if csrf != "" {
			r.Header.Set("CSRFPreventionToken", csrf)
		}
	}
}

type result struct {
	code   int
	status string // full status line text, e.g. "500 Configuration file ..."
	body   []byte
	header http.Header
}

// envelope decodes {"data":..., "message":..., "errors":...}.
func (r result) envelope(t *testing.T) (data json.RawMessage, message string, errs map[string]string) {
	t.Helper()
	var env struct {
		Data    json.RawMessage   `json:"data"`
		Message string            `json:"message"`
		Errors  map[string]string `json:"errors"`
	}
	if err := json.Unmarshal(r.body, &env); err != nil {
		t.Fatalf("body is not JSON: %v: %q", err, r.body)
	}
	return env.Data, env.Message, env.Errors
}

func (r result) decode(t *testing.T, v any) {
	t.Helper()
	data, _, _ := r.envelope(t)
	if err := json.Unmarshal(data, v); err != nil {
		t.Fatalf("decode data: %v: %s", err, data)
	}
}

func do(t *testing.T, s *Sim, method, path string, a auth, form url.Values) result {
	t.Helper()
	r, err := doErr(context.Background(), s.Client(), s, method, path, a, form)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	return r
}

func doErr(ctx context.Context, c *http.Client, s *Sim, method, path string, a auth, form url.Values) (result, error) {
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequestWithContext(ctx, method, s.APIURL()+path, body)
	if err != nil {
		return result{}, err
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if a != nil {
		a(req)
	}
	resp, err := c.Do(req)
	if err != nil {
		return result{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return result{}, err
	}
	return result{code: resp.StatusCode, status: resp.Status, body: b, header: resp.Header}, nil
}

func expectOK(t *testing.T, r result) {
	t.Helper()
	if r.code != 200 {
		t.Fatalf("want 200, got %q body %s", r.status, r.body)
	}
}

func expectError(t *testing.T, r result, code int, reason string) {
	t.Helper()
	if r.code != code || r.status != fmt.Sprintf("%d %s", code, reason) {
		t.Fatalf("want %d %q, got %q (body %s)", code, reason, r.status, r.body)
	}
}

// resources fetches /cluster/resources[?type=] as generic maps.
func resources(t *testing.T, s *Sim, typ string) []map[string]any {
	t.Helper()
	path := "/cluster/resources"
	if typ != "" {
		path += "?type=" + typ
	}
	r := do(t, s, "GET", path, rootToken, nil)
	expectOK(t, r)
	var out []map[string]any
	r.decode(t, &out)
	return out
}

func byID(list []map[string]any) map[string]map[string]any {
	m := map[string]map[string]any{}
	for _, e := range list {
		m[e["id"].(string)] = e
	}
	return m
}

func newCluster(t *testing.T, mod func(*Config)) *Sim {
	t.Helper()
	cfg := MustPreset("cluster3")
	if mod != nil {
		mod(&cfg)
	}
	return NewTestSim(t, cfg)
}

// fakeClock is a manually advanced clock for deterministic tests.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}
