// Package lambdahttp runs a plain http.Handler behind API Gateway, so Lambda,
// the local server and the tests all exercise the same handler code. It
// accepts HTTP API events (payload format 2.0, also Lambda function URLs) and
// REST API / payload 1.0 proxy events, and answers in the matching format.
package lambdahttp

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"runtime/debug"
	"strings"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
)

const (
	internalBody   = `{"error":"Something went wrong on our side. Try again in a moment.","code":"internal_error"}`
	badBase64Body  = `{"error":"The request body is marked base64 but is not valid base64.","code":"invalid_request"}`
	jsonType       = "application/json; charset=utf-8"
	requestIDField = "X-Request-Id"
)

// Start is what a function's main calls: lambda.Start(Handler(h)).
func Start(h http.Handler) {
	lambda.Start(Handler(h))
}

// Handler returns a Lambda handler that accepts both API Gateway HTTP API
// (payload format 2.0) and REST API / payload 1.0 proxy events, detected from
// the raw JSON ("version":"2.0" => v2; otherwise v1 with httpMethod), and
// answers in the matching response format: an
// events.APIGatewayV2HTTPResponse or an events.APIGatewayProxyResponse.
//
// An event that is neither is returned as an error: the function is wired to
// the wrong trigger, and no HTTP answer could reach anyone.
func Handler(h http.Handler) func(ctx context.Context, event json.RawMessage) (any, error) {
	return func(ctx context.Context, event json.RawMessage) (any, error) {
		var probe struct {
			Version    string `json:"version"`
			HTTPMethod string `json:"httpMethod"`
		}
		if err := json.Unmarshal(event, &probe); err != nil {
			return nil, fmt.Errorf("lambdahttp: event is not a JSON object: %w", err)
		}
		switch {
		case probe.Version == "2.0":
			var ev events.APIGatewayV2HTTPRequest
			if err := json.Unmarshal(event, &ev); err != nil {
				return nil, fmt.Errorf("lambdahttp: bad payload 2.0 event: %w", err)
			}
			if ev.RequestContext.HTTP.Method == "" {
				return nil, errors.New("lambdahttp: payload 2.0 event without requestContext.http.method")
			}
			r, err := requestV2(ctx, &ev)
			if err != nil {
				return responseV2(badRequest()), nil
			}
			return responseV2(serve(h, r)), nil
		case probe.HTTPMethod != "":
			var ev events.APIGatewayProxyRequest
			if err := json.Unmarshal(event, &ev); err != nil {
				return nil, fmt.Errorf("lambdahttp: bad proxy event: %w", err)
			}
			r, err := requestV1(ctx, &ev)
			if err != nil {
				return responseV1(badRequest()), nil
			}
			return responseV1(serve(h, r)), nil
		default:
			return nil, errors.New("lambdahttp: not an API Gateway proxy event (no version 2.0, no httpMethod)")
		}
	}
}

func requestV2(ctx context.Context, ev *events.APIGatewayV2HTTPRequest) (*http.Request, error) {
	rc := ev.RequestContext
	header := make(http.Header, len(ev.Headers)+2)
	for k, v := range ev.Headers {
		header.Add(k, v) // HTTP APIs already join repeated headers with commas
	}
	// HTTP APIs move the Cookie header into a separate array.
	if len(ev.Cookies) > 0 {
		c := strings.Join(ev.Cookies, "; ")
		if old := header.Get("Cookie"); old != "" {
			c = old + "; " + c
		}
		header.Set("Cookie", c)
	}
	path := ev.RawPath
	if path == "" {
		path = rc.HTTP.Path
	}
	return newRequest(ctx, requestParts{
		method:    rc.HTTP.Method,
		path:      path,
		rawQuery:  ev.RawQueryString,
		header:    header,
		body:      ev.Body,
		base64:    ev.IsBase64Encoded,
		sourceIP:  rc.HTTP.SourceIP,
		proto:     rc.HTTP.Protocol,
		domain:    rc.DomainName,
		requestID: rc.RequestID,
	})
}

func requestV1(ctx context.Context, ev *events.APIGatewayProxyRequest) (*http.Request, error) {
	rc := ev.RequestContext
	header := make(http.Header, len(ev.Headers)+2)
	if len(ev.MultiValueHeaders) > 0 {
		for k, vs := range ev.MultiValueHeaders {
			for _, v := range vs {
				header.Add(k, v)
			}
		}
	} else {
		for k, v := range ev.Headers {
			header.Add(k, v)
		}
	}
	// The parameters arrive decoded; encoding them again keeps "&", "=" and
	// "+" inside a value from turning into separators.
	q := url.Values{}
	if len(ev.MultiValueQueryStringParameters) > 0 {
		for k, vs := range ev.MultiValueQueryStringParameters {
			q[k] = append(q[k], vs...)
		}
	} else {
		for k, v := range ev.QueryStringParameters {
			q.Set(k, v)
		}
	}
	return newRequest(ctx, requestParts{
		method:    ev.HTTPMethod,
		path:      ev.Path,
		rawQuery:  q.Encode(),
		header:    header,
		body:      ev.Body,
		base64:    ev.IsBase64Encoded,
		sourceIP:  rc.Identity.SourceIP,
		proto:     rc.Protocol,
		domain:    rc.DomainName,
		requestID: rc.RequestID,
	})
}

type requestParts struct {
	method, path, rawQuery string
	header                 http.Header
	body                   string
	base64                 bool
	sourceIP, proto        string
	domain, requestID      string
}

var errBadBase64 = errors.New("lambdahttp: body is not valid base64")

func newRequest(ctx context.Context, p requestParts) (*http.Request, error) {
	body := []byte(p.body)
	if p.base64 {
		var err error
		if body, err = base64.StdEncoding.DecodeString(p.body); err != nil {
			return nil, errBadBase64
		}
	}
	u := &url.URL{RawQuery: p.rawQuery}
	u.Path, u.RawPath = splitPath(p.path)

	r := &http.Request{
		Method:     strings.ToUpper(p.method),
		URL:        u,
		Proto:      "HTTP/1.1",
		ProtoMajor: 1,
		ProtoMinor: 1,
		Header:     p.header,
		Body:       http.NoBody,
		Host:       p.header.Get("Host"),
		RequestURI: u.RequestURI(),
	}
	if major, minor, ok := http.ParseHTTPVersion(p.proto); ok {
		r.Proto, r.ProtoMajor, r.ProtoMinor = p.proto, major, minor
	}
	// Like net/http's server: the host lives in r.Host, not in the header map.
	p.header.Del("Host")
	if r.Host == "" {
		r.Host = p.domain
	}
	if len(body) > 0 {
		r.Body = io.NopCloser(bytes.NewReader(body))
		r.ContentLength = int64(len(body))
	}
	if p.sourceIP != "" {
		// net/http promises "IP:port"; API Gateway gives no port.
		r.RemoteAddr = net.JoinHostPort(p.sourceIP, "0")
	}
	if p.header.Get(requestIDField) == "" && p.requestID != "" {
		p.header.Set(requestIDField, p.requestID) // logs then correlate with API Gateway's
	}
	return r.WithContext(ctx), nil
}

// splitPath returns the decoded path and, when it is not the default
// encoding of that path, its escaped form (url.URL's Path and RawPath). REST APIs and
// function URLs deliver the path percent-encoded, HTTP APIs deliver rawPath
// decoded; escaping only what can never appear literally in an encoded path
// handles both without knowing which produced the event.
func splitPath(p string) (path, rawPath string) {
	if !strings.HasPrefix(p, "/") {
		p = "/" + p
	}
	var b strings.Builder
	for i := 0; i < len(p); i++ {
		c := p[i]
		switch {
		case c == '%' && i+2 < len(p) && isHex(p[i+1]) && isHex(p[i+2]):
			b.WriteByte(c)
		case c == '%' || c == '?' || c == '#' || c <= ' ' || c >= 0x7f:
			fmt.Fprintf(&b, "%%%02X", c)
		default:
			b.WriteByte(c)
		}
	}
	raw := b.String()
	path, err := url.PathUnescape(raw)
	if err != nil { // cannot happen: every '%' above starts a valid escape
		return p, ""
	}
	// Like url.Parse: RawPath only when it differs from the default encoding.
	if (&url.URL{Path: path}).EscapedPath() == raw {
		raw = ""
	}
	return path, raw
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// answer is what the handler produced, before it is shaped for API Gateway.
type answer struct {
	status int
	header http.Header
	body   []byte
}

func badRequest() answer {
	return answer{
		status: http.StatusBadRequest,
		header: http.Header{"Content-Type": {jsonType}, "Cache-Control": {"no-store"}},
		body:   []byte(badBase64Body),
	}
}

// serve runs h on r. A panic becomes a 500 so one bad request does not take
// the runtime (and the requests queued behind it) down.
func serve(h http.Handler, r *http.Request) (a answer) {
	rec := newRecorder(r.Method == http.MethodHead)
	defer func() {
		if p := recover(); p != nil {
			slog.Default().ErrorContext(r.Context(), "panic in handler",
				"request_id", r.Header.Get(requestIDField), "method", r.Method, "path", r.URL.Path,
				"panic", fmt.Sprint(p), "stack", string(debug.Stack()))
			a = panicAnswer(rec.Header(), r.Header.Get(requestIDField))
		}
	}()
	h.ServeHTTP(rec, r)
	return rec.finish()
}

// panicAnswer keeps the CORS headers the handler had already set, so a
// browser can still read the error.
func panicAnswer(partial http.Header, requestID string) answer {
	header := http.Header{}
	for k, vs := range partial {
		if strings.HasPrefix(k, "Access-Control-") || k == "Vary" {
			header[k] = append([]string(nil), vs...)
		}
	}
	header.Set("Content-Type", jsonType)
	header.Set("Cache-Control", "no-store")
	if requestID != "" {
		header.Set(requestIDField, requestID)
	}
	return answer{status: http.StatusInternalServerError, header: header, body: []byte(internalBody)}
}

// recorder is an in-memory http.ResponseWriter with net/http's server
// semantics where they change what the client sees: headers are frozen at
// WriteHeader, the status defaults to 200, Content-Type is sniffed when
// unset, and no body goes out for HEAD, 204 or 304.
type recorder struct {
	header  http.Header
	sent    http.Header // header as of WriteHeader
	status  int
	body    bytes.Buffer
	isHead  bool
	written bool
}

func newRecorder(isHead bool) *recorder {
	return &recorder{header: http.Header{}, isHead: isHead}
}

func (w *recorder) Header() http.Header { return w.header }

func (w *recorder) WriteHeader(code int) {
	if w.written {
		return
	}
	if code < 100 || code > 999 {
		panic(fmt.Sprintf("invalid WriteHeader code %v", code)) // as net/http does
	}
	if code < 200 {
		return // interim responses cannot be relayed through API Gateway
	}
	w.written = true
	w.status = code
	w.sent = w.header.Clone()
}

func (w *recorder) Write(p []byte) (int, error) {
	if !w.written {
		w.WriteHeader(http.StatusOK)
	}
	if !bodyAllowed(w.status) {
		return 0, http.ErrBodyNotAllowed
	}
	if w.isHead {
		return len(p), nil
	}
	return w.body.Write(p)
}

// Flush is a no-op (the whole response is buffered); it lets handlers that
// flush run unchanged.
func (w *recorder) Flush() {}

func (w *recorder) finish() answer {
	if !w.written {
		w.WriteHeader(http.StatusOK)
	}
	header := w.sent
	if _, set := header["Content-Type"]; !set && w.body.Len() > 0 {
		header.Set("Content-Type", http.DetectContentType(w.body.Bytes()))
	}
	return answer{status: w.status, header: header, body: w.body.Bytes()}
}

func bodyAllowed(status int) bool {
	return status >= 200 && status != http.StatusNoContent && status != http.StatusNotModified
}

// encodeBody returns the body as API Gateway wants it: text as is, anything
// that is not valid UTF-8 in base64 (JSON strings cannot carry raw bytes).
func encodeBody(b []byte) (string, bool) {
	if utf8.Valid(b) {
		return string(b), false
	}
	return base64.StdEncoding.EncodeToString(b), true
}

func responseV2(a answer) events.APIGatewayV2HTTPResponse {
	body, b64 := encodeBody(a.body)
	resp := events.APIGatewayV2HTTPResponse{
		StatusCode:      a.status,
		Headers:         make(map[string]string, len(a.header)),
		Body:            body,
		IsBase64Encoded: b64,
	}
	for k, vs := range a.header {
		if len(vs) == 0 {
			continue
		}
		// Cookies have their own field: joined with ", " they would be
		// ambiguous, since Expires contains a comma.
		if k == "Set-Cookie" {
			resp.Cookies = append(resp.Cookies, vs...)
			continue
		}
		resp.Headers[k] = strings.Join(vs, ", ")
	}
	return resp
}

func responseV1(a answer) events.APIGatewayProxyResponse {
	body, b64 := encodeBody(a.body)
	resp := events.APIGatewayProxyResponse{
		StatusCode:        a.status,
		Headers:           make(map[string]string, len(a.header)),
		MultiValueHeaders: make(map[string][]string, len(a.header)),
		Body:              body,
		IsBase64Encoded:   b64,
	}
	for k, vs := range a.header {
		if len(vs) == 0 {
			continue
		}
		resp.MultiValueHeaders[k] = append([]string(nil), vs...)
		// API Gateway prefers multiValueHeaders for a key in both; Set-Cookie
		// stays out of the single-value map where joining would corrupt it.
		if k != "Set-Cookie" {
			resp.Headers[k] = strings.Join(vs, ", ")
		}
	}
	return resp
}
