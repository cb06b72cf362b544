package pvesim

import (
	"bufio"
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// apiError is a failed answer. Like pveproxy, the first line of msg becomes
// the HTTP reason phrase, so clients see e.g. "500 Configuration file ...".
type apiError struct {
	status int
	msg    string
	errors map[string]string // parameter errors (400)
	// authLayer marks failures raised before any API handler ran (pveproxy's
	// auth handler): the reason phrase only, no body.
	authLayer bool
	// noBody marks pveproxy proxy failures (595/596): no body at all.
	noBody bool
}

func errf(status int, format string, args ...any) *apiError {
	return &apiError{status: status, msg: fmt.Sprintf(format, args...)}
}

func paramErr(name, msg string) *apiError {
	return &apiError{status: 400, msg: "Parameter verification failed.", errors: map[string]string{name: msg}}
}

// identity is an authenticated caller.
type identity struct {
	user      string // user@realm
	tokenName string // "" for ticket logins
	readOnly  bool
	ticket    bool
}

func (id identity) authID() string {
	if id.tokenName != "" {
		return id.user + "!" + id.tokenName
	}
	return id.user
}

// response is a successful answer: {"data": data} plus optional total.
type response struct {
	data  any
	total int
}

// ServeHTTP implements http.Handler: faults, auth, routing, formatting.
func (s *Sim) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.closeMu.Lock()
	if s.closed {
		s.closeMu.Unlock()
		s.dropConn(w, r)
		return
	}
	s.inflight.Add(1)
	s.closeMu.Unlock()
	defer s.inflight.Done()

	path := r.URL.Path
	isAPI := path == "/api2/json" || strings.HasPrefix(path, "/api2/json/")
	key := path
	if isAPI {
		key = normalizeAPIPath(path)
	}
	s.mu.Lock()
	s.total++
	s.requests[key]++
	s.logCall(key)
	af := s.matchFaults(key)
	s.mu.Unlock()

	ctx := r.Context()
	// When a delayed or hanging request ends without an answer, the
	// connection is dropped: returning normally would make net/http send an
	// empty "200 OK", which a racing client could even read.
	if err := s.sleepCtx(ctx, af.latency); err != nil {
		s.dropConn(w, r)
		return
	}
	if af.hang {
		select {
		case <-ctx.Done(): // client gave up
		case <-s.closing:
		}
		s.dropConn(w, r)
		return
	}
	if af.unauthorized {
		s.writeAuthError(w, r, &apiError{status: 401, msg: "Authentication failed!", authLayer: true})
		return
	}
	if af.status != 0 {
		s.writeError(w, r, faultError(af.status, af.reason))
		return
	}
	if !isAPI {
		s.writeError(w, r, errf(501, "no such file '%s'", path))
		return
	}

	if err := parseParams(r); err != nil {
		s.writeError(w, r, errf(400, "unable to parse request parameters - %v", err))
		return
	}
	id, aerr := s.authenticate(r, key)
	if aerr != nil {
		s.writeAuthError(w, r, aerr)
		return
	}
	res, aerr := s.dispatch(r.Method, key, r.Form, id)
	if aerr != nil {
		s.writeAuthError(w, r, aerr)
		return
	}
	s.writeData(w, r, res, af.malformedJSON)
}

// writeAuthError sends e, first waiting AuthFailureDelay if it is a 401:
// pve-http-server src/PVE/APIServer/AnyEvent.pm delays every unauthorized
// answer by 3 s, both those of its auth handler ("always delay unauthorized
// calls by 3 seconds") and a handler's own 401 (handle_api2_request, e.g.
// a failed login), measured from the request's start.
func (s *Sim) writeAuthError(w http.ResponseWriter, r *http.Request, e *apiError) {
	if e.status == 401 && s.cfg.AuthFailureDelay > 0 {
		if err := s.sleepCtx(r.Context(), s.cfg.AuthFailureDelay); err != nil {
			s.dropConn(w, r)
			return
		}
	}
	s.writeError(w, r, e)
}

// faultError builds the answer for Fault.Status.
func faultError(status int, reason string) *apiError {
	e := &apiError{status: status, msg: reason}
	switch status {
	case 595:
		e.noBody = true
		if e.msg == "" {
			e.msg = "Connection refused"
		}
	case 596:
		e.noBody = true
		if e.msg == "" {
			e.msg = "Connection timed out"
		}
	}
	if e.msg == "" {
		e.msg = http.StatusText(status)
	}
	if e.msg == "" {
		e.msg = "Error " + strconv.Itoa(status)
	}
	return e
}

// authenticate checks an API token or a ticket cookie (plus CSRF token on
// writes), the way pveproxy's auth handler does before dispatching.
func (s *Sim) authenticate(r *http.Request, apiPath string) (identity, *apiError) {
	if apiPath == "/access/ticket" && (r.Method == http.MethodGet || r.Method == http.MethodPost) ||
		apiPath == "/access/domains" && r.Method == http.MethodGet {
		return identity{}, nil
	}
	// pve-manager PVE/HTTPServer.pm auth_handler dies with "No ticket" or
	// "Authentication failed!" (never saying which part was wrong);
	// pveproxy sends that as the reason phrase of a 401 without a body
	// (pve-http-server src/PVE/APIServer/AnyEvent.pm, HTTP::Response->new).
	fail := func(msg string) (identity, *apiError) {
		if msg == "authentication failure" {
			msg = "Authentication failed!"
		}
		return identity{}, &apiError{status: 401, msg: msg, authLayer: true}
	}
	h := r.Header.Get("Authorization")
	if v, ok := strings.CutPrefix(h, "PVEAuthCookie="); ok {
		// The ticket may also travel in the Authorization header
		// (AnyEvent.pm: "fallback to cookie in 'Authorization' header").
		return s.ticketIdentity(r, v, fail)
	}
	if strings.HasPrefix(h, "PVEAPIToken") {
		v := strings.TrimPrefix(h, "PVEAPIToken")
		if v == "" || (v[0] != '=' && v[0] != ' ') {
			return fail("authentication failure")
		}
		tokenID, secret, ok := strings.Cut(strings.TrimSpace(v[1:]), "=")
		if !ok {
			return fail("authentication failure")
		}
		for _, t := range s.cfg.Tokens {
			if t.ID == tokenID && subtle.ConstantTimeCompare([]byte(t.Secret), []byte(secret)) == 1 {
				user, name, _ := splitTokenID(t.ID)
				return identity{user: user, tokenName: name, readOnly: t.ReadOnly}, nil
			}
		}
		return fail("authentication failure")
	}
	c, err := r.Cookie("PVEAuthCookie")
	if err != nil || c.Value == "" {
		return fail("No ticket")
	}
	return s.ticketIdentity(r, c.Value, fail)
}

func (s *Sim) ticketIdentity(r *http.Request, raw string, fail func(string) (identity, *apiError)) (identity, *apiError) {
	ticket, err := url.PathUnescape(raw) // like uri_unescape: a base64 "+" stays "+"
	if err != nil || ticket == "" {
		return fail("authentication failure")
	}
	user, ok := s.verifyTicket(ticket)
	if !ok {
		return fail("authentication failure")
	}
	if strings.HasPrefix(user, "!tfa!") {
		// A half ticket from a NeedTFA login is good for /access/tfa only.
		return fail("No ticket")
	}
	id := identity{user: user, ticket: true, readOnly: s.userReadOnly(user)}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		if !s.verifyCSRF(r.Header.Get("CSRFPreventionToken"), user) {
			return fail("Permission denied - invalid csrf token")
		}
	}
	return id, nil
}

func (s *Sim) userReadOnly(user string) bool {
	for _, u := range s.cfg.Users {
		if u.ID == user {
			return u.ReadOnly
		}
	}
	return false
}

// Tickets look like PVE's: "PVE:user@realm:HEXTIME::signature". The real
// signature is RSA; an expanded HMAC of similar length stands in for it.
const ticketLifetime = 2 * time.Hour

func (s *Sim) mac(parts ...string) []byte {
	m := hmac.New(sha256.New, s.signKey)
	for _, p := range parts {
		m.Write([]byte(p))
		m.Write([]byte{0})
	}
	return m.Sum(nil)
}

func (s *Sim) makeTicket(user string, now time.Time) string {
	plain := fmt.Sprintf("PVE:%s:%08X", user, now.Unix())
	var sig []byte
	for i := 0; i < 8; i++ { // 256 bytes, like an RSA-2048 signature
		sig = append(sig, s.mac("ticket", plain, strconv.Itoa(i))...)
	}
	return plain + "::" + base64.StdEncoding.EncodeToString(sig)
}

func (s *Sim) verifyTicket(ticket string) (string, bool) {
	plain, _, ok := strings.Cut(ticket, "::")
	if !ok {
		return "", false
	}
	parts := strings.Split(plain, ":")
	if len(parts) != 3 || parts[0] != "PVE" {
		return "", false
	}
	ts, err := strconv.ParseInt(parts[2], 16, 64)
	if err != nil {
		return "", false
	}
	if subtle.ConstantTimeCompare([]byte(s.makeTicket(parts[1], time.Unix(ts, 0))), []byte(ticket)) != 1 {
		return "", false
	}
	age := s.cfg.Clock().Sub(time.Unix(ts, 0))
	if age < -5*time.Minute || age >= ticketLifetime {
		return "", false
	}
	return parts[1], true
}

func (s *Sim) makeCSRF(user string, now time.Time) string {
	ts := fmt.Sprintf("%08X", now.Unix())
	return ts + ":" + base64.RawStdEncoding.EncodeToString(s.mac("csrf", ts, user))
}

func (s *Sim) verifyCSRF(token, user string) bool {
	ts, _, ok := strings.Cut(token, ":")
	if !ok {
		return false
	}
	t, err := strconv.ParseInt(ts, 16, 64)
	if err != nil {
		return false
	}
	if subtle.ConstantTimeCompare([]byte(s.makeCSRF(user, time.Unix(t, 0))), []byte(token)) != 1 {
		return false
	}
	age := s.cfg.Clock().Sub(time.Unix(t, 0))
	return age >= -5*time.Minute && age < ticketLifetime
}

// pveproxy-like headers on every answer.
func setStdHeaders(h http.Header, now time.Time) {
	date := now.UTC().Format(http.TimeFormat)
	h.Set("Server", "pve-api-daemon/3.0")
	h.Set("Cache-Control", "max-age=0")
	h.Set("Pragma", "no-cache")
	h.Set("Expires", date)
}

func encodeJSON(v any) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false) // Perl's JSON does not escape <, >, &
	if err := enc.Encode(v); err != nil {
		// Everything we encode is built from plain maps; this is a bug.
		panic(fmt.Sprintf("pvesim: encode response: %v", err))
	}
	return bytes.TrimRight(buf.Bytes(), "\n")
}

func (s *Sim) writeData(w http.ResponseWriter, r *http.Request, res response, malformed bool) {
	body := map[string]any{"data": res.data}
	if res.total > 0 {
		body["total"] = res.total
	}
	raw := encodeJSON(body)
	if malformed {
		raw = truncateJSON(raw)
	}
	setStdHeaders(w.Header(), time.Now())
	w.Header().Set("Content-Type", "application/json;charset=UTF-8")
	w.Header().Set("Content-Length", strconv.Itoa(len(raw)))
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = w.Write(raw)
	}
}

// truncateJSON cuts a valid document roughly in half so it cannot parse.
func truncateJSON(raw []byte) []byte {
	n := len(raw) / 2
	if n < len(`{"data":`) {
		return []byte(`{"data":`)
	}
	return raw[:n]
}

// writeError sends an error with pveproxy's status line: the reason phrase
// is the (first line of the) error message, which net/http cannot do, so
// the connection is hijacked and closed afterwards (pveproxy also drops
// keep-alive for status >= 300).
func (s *Sim) writeError(w http.ResponseWriter, r *http.Request, e *apiError) {
	var body []byte
	switch {
	case e.noBody:
	case e.authLayer:
		// auth handler failures: reason phrase only, no body
	default:
		msg := e.msg
		if !strings.HasSuffix(msg, "\n") {
			msg += "\n" // Perl die messages end in a newline
		}
		m := map[string]any{"data": nil, "message": msg}
		if len(e.errors) > 0 {
			m["errors"] = e.errors
		}
		body = encodeJSON(m)
	}
	s.writeRaw(w, r, e.status, e.msg, body)
}

func reasonPhrase(msg string) string {
	line, _, _ := strings.Cut(strings.TrimLeft(msg, "\r\n"), "\n")
	line = strings.TrimRight(line, "\r")
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, line)
}

func (s *Sim) writeRaw(w http.ResponseWriter, r *http.Request, status int, msg string, body []byte) {
	// Read the request body first so closing the socket does not reset the
	// connection before the client has read our answer.
	_, _ = io.Copy(io.Discard, io.LimitReader(r.Body, 1<<20))
	hj, ok := w.(http.Hijacker)
	if !ok {
		w.WriteHeader(status)
		_, _ = w.Write(body)
		return
	}
	conn, brw, err := hj.Hijack()
	if err != nil {
		return
	}
	defer conn.Close()
	h := http.Header{}
	setStdHeaders(h, time.Now())
	h.Set("Date", time.Now().UTC().Format(http.TimeFormat))
	h.Set("Connection", "close")
	if len(body) > 0 {
		h.Set("Content-Type", "application/json;charset=UTF-8")
		h.Set("Content-Length", strconv.Itoa(len(body)))
	}
	bw := brw.Writer
	if bw == nil {
		bw = bufio.NewWriter(conn)
	}
	fmt.Fprintf(bw, "HTTP/1.1 %03d %s\r\n", status, reasonPhrase(msg))
	_ = h.Write(bw)
	_, _ = bw.WriteString("\r\n")
	if r.Method != http.MethodHead {
		_, _ = bw.Write(body)
	}
	_ = bw.Flush()
}

// dropConn closes the connection without answering.
func (s *Sim) dropConn(w http.ResponseWriter, _ *http.Request) {
	if hj, ok := w.(http.Hijacker); ok {
		if conn, _, err := hj.Hijack(); err == nil {
			_ = conn.Close()
			return
		}
	}
	panic(http.ErrAbortHandler) // net/http closes the connection silently
}

// parseParams fills r.Form from the query and the body. pveproxy accepts
// both form-encoded and JSON bodies (go-proxmox sends JSON); a JSON object's
// scalar values become form values.
func parseParams(r *http.Request) error {
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if ct != "application/json" {
		return r.ParseForm()
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		return err
	}
	// Parse the query only: ParseForm would try (and fail) to read a JSON body as a form.
	r.Body = io.NopCloser(strings.NewReader(""))
	if err := r.ParseForm(); err != nil {
		return err
	}
	if len(strings.TrimSpace(string(body))) == 0 {
		return nil
	}
	var m map[string]any
	dec := json.NewDecoder(strings.NewReader(string(body)))
	dec.UseNumber()
	if err := dec.Decode(&m); err != nil {
		return fmt.Errorf("invalid JSON body")
	}
	for k, v := range m {
		switch x := v.(type) {
		case string:
			r.Form.Set(k, x)
		case json.Number:
			r.Form.Set(k, x.String())
		case bool:
			if x {
				r.Form.Set(k, "1")
			} else {
				r.Form.Set(k, "0")
			}
		}
	}
	return nil
}
