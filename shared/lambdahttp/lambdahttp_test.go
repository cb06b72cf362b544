package lambdahttp

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/lambda"
)

// received is everything an echo handler saw of the request.
type received struct {
	Method        string
	Path          string
	RawPath       string
	RawQuery      string
	Query         map[string][]string
	RequestURI    string
	Host          string
	RemoteAddr    string
	Proto         string
	Header        http.Header
	Body          string
	ContentLength int64
	CtxValue      any
}

type ctxKey struct{}

// echo records the request into *got and answers with reply.
func echo(got *received, reply func(w http.ResponseWriter)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			panic(err)
		}
		*got = received{
			Method: r.Method, Path: r.URL.Path, RawPath: r.URL.RawPath, RawQuery: r.URL.RawQuery,
			Query: r.URL.Query(), RequestURI: r.RequestURI, Host: r.Host, RemoteAddr: r.RemoteAddr,
			Proto: r.Proto, Header: r.Header, Body: string(body), ContentLength: r.ContentLength,
			CtxValue: r.Context().Value(ctxKey{}),
		}
		reply(w)
	})
}

func replyJSON(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write([]byte(`{"ok":true}`))
}

// event loads a copied aws-lambda-go fixture and applies patches, each a
// dotted path to a value (nil deletes the key).
func event(t *testing.T, file string, patches map[string]any) json.RawMessage {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", file))
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	for path, v := range patches {
		keys := strings.Split(path, ".")
		cur := m
		for _, k := range keys[:len(keys)-1] {
			next, ok := cur[k].(map[string]any)
			if !ok {
				next = map[string]any{}
				cur[k] = next
			}
			cur = next
		}
		if v == nil {
			delete(cur, keys[len(keys)-1])
		} else {
			cur[keys[len(keys)-1]] = v
		}
	}
	out, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// sameJSON compares two JSON documents by value.
func sameJSON(t *testing.T, got, want []byte) {
	t.Helper()
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatalf("response is not JSON: %v\n%s", err, got)
	}
	if err := json.Unmarshal(want, &w); err != nil {
		t.Fatalf("bad expectation: %v\n%s", err, want)
	}
	if !reflect.DeepEqual(g, w) {
		t.Errorf("response JSON\n got: %s\nwant: %s", got, want)
	}
}

const (
	v2    = "apigw-v2-request-no-authorizer.json"
	v2iam = "apigw-v2-request-iam.json"
	v1    = "apigw-request.json"
)

// v1Headers is what apigw-request.json's multiValueHeaders become.
func v1Headers(extra http.Header) http.Header {
	h := http.Header{
		"Accept":                       {"*/*"},
		"Accept-Encoding":              {"gzip, deflate"},
		"Cache-Control":                {"no-cache"},
		"Cloudfront-Forwarded-Proto":   {"https"},
		"Cloudfront-Is-Desktop-Viewer": {"true"},
		"Cloudfront-Is-Mobile-Viewer":  {"false"},
		"Cloudfront-Is-Smarttv-Viewer": {"false"},
		"Cloudfront-Is-Tablet-Viewer":  {"false"},
		"Cloudfront-Viewer-Country":    {"US"},
		"Content-Type":                 {"application/json"},
		"Headername":                   {"headerValue"},
		"Postman-Token":                {"9f583ef0-ed83-4a38-aef3-eb9ce3f7a57f"},
		"User-Agent":                   {"PostmanRuntime/2.4.5"},
		"Via":                          {"1.1 d98420743a69852491bbdea73f7680bd.cloudfront.net (CloudFront)"},
		"X-Amz-Cf-Id":                  {"pn-PWIJc6thYnZm5P0NMgOUglL1DYtl0gdeJky8tqsg8iS_sgsKD1A=="},
		"X-Forwarded-For":              {"54.240.196.186, 54.182.214.83"},
		"X-Forwarded-Port":             {"443"},
		"X-Forwarded-Proto":            {"https"},
		"X-Request-Id":                 {"deef4878-7910-11e6-8f14-25afc3e9ae33"},
	}
	for k, v := range extra {
		if v == nil {
			delete(h, k)
		} else {
			h[k] = v
		}
	}
	return h
}

// v2Headers is what apigw-v2-request-no-authorizer.json's headers become.
func v2Headers(extra http.Header) http.Header {
	h := http.Header{
		"Accept":            {"*/*"},
		"Content-Length":    {"0"},
		"User-Agent":        {"curl/7.58.0"},
		"X-Amzn-Trace-Id":   {"Root=1-5e9f0c65-1de4d666d4dd26aced652b6c"},
		"X-Forwarded-For":   {"1.2.3.4"},
		"X-Forwarded-Port":  {"443"},
		"X-Forwarded-Proto": {"https"},
		"X-Request-Id":      {"LV7fzho-PHcEJPw="},
	}
	for k, v := range extra {
		if v == nil {
			delete(h, k)
		} else {
			h[k] = v
		}
	}
	return h
}

const okV2 = `{"statusCode":200,"headers":{"Content-Type":"application/json"},"multiValueHeaders":null,"body":"{\"ok\":true}","cookies":null}`
const okV1 = `{"statusCode":200,"headers":{"Content-Type":"application/json"},"multiValueHeaders":{"Content-Type":["application/json"]},"body":"{\"ok\":true}"}`

func TestHandler(t *testing.T) {
	const v2Host = "aaaaaaaaaa.execute-api.us-west-2.amazonaws.com"
	const v1Host = "gy415nuibc.execute-api.us-east-1.amazonaws.com"
	tests := []struct {
		name  string
		event json.RawMessage
		reply func(w http.ResponseWriter)
		want  *received // nil: the handler must not run
		resp  string
	}{
		{
			name:  "v2 GET as captured",
			event: event(t, v2, nil),
			want: &received{
				Method: "GET", Path: "/", RequestURI: "/", Query: map[string][]string{},
				Host: v2Host, RemoteAddr: "1.2.3.4:0", Proto: "HTTP/1.1",
				Header: v2Headers(nil),
			},
			resp: okV2,
		},
		{
			name:  "v2 IAM fixture: cookies, repeated query keys, body, host from domainName",
			event: event(t, v2iam, nil),
			want: &received{
				Method: "GET", Path: "/my/path", RequestURI: "/my/path?parameter1=value1&parameter1=value2&parameter2=value",
				RawQuery: "parameter1=value1&parameter1=value2&parameter2=value",
				Query:    map[string][]string{"parameter1": {"value1", "value2"}, "parameter2": {"value"}},
				Host:     "id.execute-api.us-east-1.amazonaws.com", RemoteAddr: "IP:0", Proto: "HTTP/1.1",
				Header: http.Header{
					"Header1": {"value1"}, "Header2": {"value2"},
					"Cookie":       {"cookie1; cookie2"},
					"X-Request-Id": {"id"},
				},
				Body: "{\r\n\t\"a\": 1\r\n}", ContentLength: 13,
			},
			resp: okV2,
		},
		{
			name: "v2 POST with base64 body and encoded query",
			event: event(t, v2, map[string]any{
				"rawPath":                    "/functions/v1/proxmox-servers",
				"rawQueryString":             "tenantId=a%26b&q=x+y",
				"requestContext.http.method": "POST",
				"headers.content-type":       "application/json",
				"headers.content-length":     "29",
				"body":                       "eyJhY3Rpb24iOiJ0ZXN0IiwicG9ydCI6ODAwNn0=",
				"isBase64Encoded":            true,
			}),
			want: &received{
				Method: "POST", Path: "/functions/v1/proxmox-servers",
				RequestURI: "/functions/v1/proxmox-servers?tenantId=a%26b&q=x+y",
				RawQuery:   "tenantId=a%26b&q=x+y",
				Query:      map[string][]string{"tenantId": {"a&b"}, "q": {"x y"}},
				Host:       v2Host, RemoteAddr: "1.2.3.4:0", Proto: "HTTP/1.1",
				Header:        v2Headers(http.Header{"Content-Type": {"application/json"}, "Content-Length": {"29"}}),
				Body:          `{"action":"test","port":8006}`,
				ContentLength: 29,
			},
			resp: okV2,
		},
		{
			name: "v2 bad base64 body is a 400, not a Lambda error",
			event: event(t, v2, map[string]any{
				"requestContext.http.method": "POST",
				"body":                       "not base64!",
				"isBase64Encoded":            true,
			}),
			resp: `{"statusCode":400,"headers":{"Content-Type":"application/json; charset=utf-8","Cache-Control":"no-store"},"multiValueHeaders":null,"body":"{\"error\":\"The request body is marked base64 but is not valid base64.\",\"code\":\"invalid_request\"}","cookies":null}`,
		},
		{
			name: "v2 OPTIONS preflight reaches the handler unchanged",
			event: event(t, v2, map[string]any{
				"rawPath":                                "/functions/v1/tenants",
				"requestContext.http.method":             "OPTIONS",
				"headers.origin":                         "https://app.example.com",
				"headers.access-control-request-method":  "POST",
				"headers.access-control-request-headers": "authorization, content-type",
			}),
			reply: func(w http.ResponseWriter) {
				w.Header().Set("Access-Control-Allow-Origin", "*")
				w.Header().Set("Access-Control-Allow-Methods", "GET, POST, PUT, PATCH, DELETE, OPTIONS")
				w.WriteHeader(http.StatusNoContent)
			},
			want: &received{
				Method: "OPTIONS", Path: "/functions/v1/tenants",
				RequestURI: "/functions/v1/tenants", Query: map[string][]string{},
				Host: v2Host, RemoteAddr: "1.2.3.4:0", Proto: "HTTP/1.1",
				Header: v2Headers(http.Header{
					"Origin":                         {"https://app.example.com"},
					"Access-Control-Request-Method":  {"POST"},
					"Access-Control-Request-Headers": {"authorization, content-type"},
				}),
			},
			resp: `{"statusCode":204,"headers":{"Access-Control-Allow-Origin":"*","Access-Control-Allow-Methods":"GET, POST, PUT, PATCH, DELETE, OPTIONS"},"multiValueHeaders":null,"body":"","cookies":null}`,
		},
		{
			name: "v2 caller's X-Request-Id is kept",
			event: event(t, v2, map[string]any{
				"headers.x-request-id": "from-client",
			}),
			want: &received{
				Method: "GET", Path: "/", RequestURI: "/", Query: map[string][]string{},
				Host: v2Host, RemoteAddr: "1.2.3.4:0", Proto: "HTTP/1.1",
				Header: v2Headers(http.Header{"X-Request-Id": {"from-client"}}),
			},
			resp: okV2,
		},
		{
			name: "v2 decoded rawPath with space and question mark stays one path",
			event: event(t, v2, map[string]any{
				"rawPath":        "/files/a b?.txt",
				"rawQueryString": "x=1",
			}),
			want: &received{
				Method: "GET", Path: "/files/a b?.txt",
				RequestURI: "/files/a%20b%3F.txt?x=1", RawQuery: "x=1",
				Query: map[string][]string{"x": {"1"}},
				Host:  v2Host, RemoteAddr: "1.2.3.4:0", Proto: "HTTP/1.1",
				Header: v2Headers(nil),
			},
			resp: okV2,
		},
		{
			name:  "v2 response: cookies apart, repeated headers joined",
			event: event(t, v2, nil),
			reply: func(w http.ResponseWriter) {
				w.Header().Add("Set-Cookie", "a=1; Path=/; Expires=Wed, 21 Oct 2026 07:28:00 GMT")
				w.Header().Add("Set-Cookie", "b=2; HttpOnly")
				w.Header().Add("Vary", "Origin")
				w.Header().Add("Vary", "Accept-Encoding")
				w.Header().Set("Content-Type", "text/plain; charset=utf-8")
				w.WriteHeader(http.StatusCreated)
				_, _ = w.Write([]byte("créé"))
				w.Header().Set("X-Too-Late", "ignored, as by net/http")
			},
			want: &received{
				Method: "GET", Path: "/", RequestURI: "/", Query: map[string][]string{},
				Host: v2Host, RemoteAddr: "1.2.3.4:0", Proto: "HTTP/1.1",
				Header: v2Headers(nil),
			},
			resp: `{"statusCode":201,"headers":{"Content-Type":"text/plain; charset=utf-8","Vary":"Origin, Accept-Encoding"},"multiValueHeaders":null,"body":"créé","cookies":["a=1; Path=/; Expires=Wed, 21 Oct 2026 07:28:00 GMT","b=2; HttpOnly"]}`,
		},
		{
			name:  "v2 binary response is base64",
			event: event(t, v2, nil),
			reply: func(w http.ResponseWriter) {
				_, _ = w.Write([]byte{0x89, 'P', 'N', 'G', 0x0d, 0x0a, 0x1a, 0x0a, 0xff})
			},
			want: &received{
				Method: "GET", Path: "/", RequestURI: "/", Query: map[string][]string{},
				Host: v2Host, RemoteAddr: "1.2.3.4:0", Proto: "HTTP/1.1",
				Header: v2Headers(nil),
			},
			resp: `{"statusCode":200,"headers":{"Content-Type":"image/png"},"multiValueHeaders":null,"body":"iVBORw0KGgr/","isBase64Encoded":true,"cookies":null}`,
		},
		{
			name:  "v2 handler that writes nothing answers 200 with an empty body",
			event: event(t, v2, nil),
			reply: func(w http.ResponseWriter) {},
			want: &received{
				Method: "GET", Path: "/", RequestURI: "/", Query: map[string][]string{},
				Host: v2Host, RemoteAddr: "1.2.3.4:0", Proto: "HTTP/1.1",
				Header: v2Headers(nil),
			},
			resp: `{"statusCode":200,"headers":{},"multiValueHeaders":null,"body":"","cookies":null}`,
		},
		{
			name:  "v2 HEAD sends headers but no body",
			event: event(t, v2, map[string]any{"requestContext.http.method": "HEAD"}),
			want: &received{
				Method: "HEAD", Path: "/", RequestURI: "/", Query: map[string][]string{},
				Host: v2Host, RemoteAddr: "1.2.3.4:0", Proto: "HTTP/1.1",
				Header: v2Headers(nil),
			},
			resp: `{"statusCode":200,"headers":{"Content-Type":"application/json"},"multiValueHeaders":null,"body":"","cookies":null}`,
		},
		{
			name:  "v2 panic is a 500 that keeps CORS headers and names the request",
			event: event(t, v2, nil),
			reply: func(w http.ResponseWriter) {
				w.Header().Set("Access-Control-Allow-Origin", "*")
				w.Header().Set("X-Partial", "dropped")
				_, _ = w.Write([]byte("half an answer"))
				panic("boom: secret detail")
			},
			want: &received{
				Method: "GET", Path: "/", RequestURI: "/", Query: map[string][]string{},
				Host: v2Host, RemoteAddr: "1.2.3.4:0", Proto: "HTTP/1.1",
				Header: v2Headers(nil),
			},
			resp: `{"statusCode":500,"headers":{"Access-Control-Allow-Origin":"*","Content-Type":"application/json; charset=utf-8","Cache-Control":"no-store","X-Request-Id":"LV7fzho-PHcEJPw="},"multiValueHeaders":null,"body":"{\"error\":\"Something went wrong on our side. Try again in a moment.\",\"code\":\"internal_error\"}","cookies":null}`,
		},
		{
			name:  "v1 REST fixture: multiValueHeaders win, query re-encoded, host header",
			event: event(t, v1, map[string]any{"headers.headerName": "only-in-single-value-map"}),
			want: &received{
				Method: "POST", Path: "/hello/world", RequestURI: "/hello/world?name=me",
				RawQuery: "name=me", Query: map[string][]string{"name": {"me"}},
				Host: v1Host, RemoteAddr: "192.168.196.186:0", Proto: "HTTP/1.1",
				Header: v1Headers(nil),
				Body:   "{\r\n\t\"a\": 1\r\n}", ContentLength: 13,
			},
			resp: okV1,
		},
		{
			name: "v1 multi-value query string is encoded",
			event: event(t, v1, map[string]any{
				"httpMethod":                      "GET",
				"body":                            nil,
				"queryStringParameters":           map[string]any{"tag": "b&c"},
				"multiValueQueryStringParameters": map[string]any{"tag": []any{"a", "b&c"}, "q": []any{"x y+z"}, "é": []any{"ü"}},
			}),
			want: &received{
				Method: "GET", Path: "/hello/world",
				RequestURI: "/hello/world?q=x+y%2Bz&tag=a&tag=b%26c&%C3%A9=%C3%BC",
				RawQuery:   "q=x+y%2Bz&tag=a&tag=b%26c&%C3%A9=%C3%BC",
				Query:      map[string][]string{"tag": {"a", "b&c"}, "q": {"x y+z"}, "é": {"ü"}},
				Host:       v1Host, RemoteAddr: "192.168.196.186:0", Proto: "HTTP/1.1",
				Header: v1Headers(nil),
			},
			resp: okV1,
		},
		{
			name: "v1 single-value headers and query when there are no multi-value maps",
			event: event(t, v1, map[string]any{
				"httpMethod":                      "DELETE",
				"path":                            "/functions/v1/proxmox-servers/a%2Fb",
				"body":                            nil,
				"multiValueHeaders":               nil,
				"multiValueQueryStringParameters": nil,
				"headers":                         map[string]any{"Host": "api.example.com", "Authorization": "Bearer t"},
				"queryStringParameters":           map[string]any{"serverId": "1 2"},
			}),
			want: &received{
				Method: "DELETE", Path: "/functions/v1/proxmox-servers/a/b", RawPath: "/functions/v1/proxmox-servers/a%2Fb",
				RequestURI: "/functions/v1/proxmox-servers/a%2Fb?serverId=1+2",
				RawQuery:   "serverId=1+2", Query: map[string][]string{"serverId": {"1 2"}},
				Host: "api.example.com", RemoteAddr: "192.168.196.186:0", Proto: "HTTP/1.1",
				Header: http.Header{"Authorization": {"Bearer t"}, "X-Request-Id": {"deef4878-7910-11e6-8f14-25afc3e9ae33"}},
			},
			resp: okV1,
		},
		{
			name: "v1 base64 body, binary response, cookies only in multiValueHeaders",
			event: event(t, v1, map[string]any{
				"body":            "AAEC/w==",
				"isBase64Encoded": true,
			}),
			reply: func(w http.ResponseWriter) {
				w.Header().Add("Set-Cookie", "a=1")
				w.Header().Add("Set-Cookie", "b=2")
				w.Header().Set("Content-Type", "application/octet-stream")
				_, _ = w.Write([]byte{0, 1, 2, 0xff})
			},
			want: &received{
				Method: "POST", Path: "/hello/world", RequestURI: "/hello/world?name=me",
				RawQuery: "name=me", Query: map[string][]string{"name": {"me"}},
				Host: v1Host, RemoteAddr: "192.168.196.186:0", Proto: "HTTP/1.1",
				Header: v1Headers(nil),
				Body:   "\x00\x01\x02\xff", ContentLength: 4,
			},
			resp: `{"statusCode":200,"headers":{"Content-Type":"application/octet-stream"},"multiValueHeaders":{"Content-Type":["application/octet-stream"],"Set-Cookie":["a=1","b=2"]},"body":"AAEC/w==","isBase64Encoded":true}`,
		},
		{
			name:  "v1 bad base64 body is a 400",
			event: event(t, v1, map[string]any{"body": "%%%", "isBase64Encoded": true}),
			resp:  `{"statusCode":400,"headers":{"Content-Type":"application/json; charset=utf-8","Cache-Control":"no-store"},"multiValueHeaders":{"Content-Type":["application/json; charset=utf-8"],"Cache-Control":["no-store"]},"body":"{\"error\":\"The request body is marked base64 but is not valid base64.\",\"code\":\"invalid_request\"}"}`,
		},
		{
			name:  "v1 panic is a 500 without the panic text",
			event: event(t, v1, nil),
			reply: func(w http.ResponseWriter) { panic("boom: secret detail") },
			want: &received{
				Method: "POST", Path: "/hello/world", RequestURI: "/hello/world?name=me",
				RawQuery: "name=me", Query: map[string][]string{"name": {"me"}},
				Host: v1Host, RemoteAddr: "192.168.196.186:0", Proto: "HTTP/1.1",
				Header: v1Headers(nil),
				Body:   "{\r\n\t\"a\": 1\r\n}", ContentLength: 13,
			},
			resp: `{"statusCode":500,"headers":{"Content-Type":"application/json; charset=utf-8","Cache-Control":"no-store","X-Request-Id":"deef4878-7910-11e6-8f14-25afc3e9ae33"},"multiValueHeaders":{"Content-Type":["application/json; charset=utf-8"],"Cache-Control":["no-store"],"X-Request-Id":["deef4878-7910-11e6-8f14-25afc3e9ae33"]},"body":"{\"error\":\"Something went wrong on our side. Try again in a moment.\",\"code\":\"internal_error\"}"}`,
		},
		{
			name:  "HTTP API payload 1.0 (version 1.0) is a proxy event",
			event: event(t, v1, map[string]any{"version": "1.0", "requestContext.requestId": "JKJaXmPLvHcESHA="}),
			want: &received{
				Method: "POST", Path: "/hello/world", RequestURI: "/hello/world?name=me",
				RawQuery: "name=me", Query: map[string][]string{"name": {"me"}},
				Host: v1Host, RemoteAddr: "192.168.196.186:0", Proto: "HTTP/1.1",
				Header: v1Headers(http.Header{"X-Request-Id": {"JKJaXmPLvHcESHA="}}),
				Body:   "{\r\n\t\"a\": 1\r\n}", ContentLength: 13,
			},
			resp: okV1,
		},
	}

	// The panic log goes to slog.Default; keep it out of the test output
	// but check it carries what an operator needs.
	var logs bytes.Buffer
	old := slog.Default()
	slog.SetDefault(slog.New(slog.NewJSONHandler(&logs, nil)))
	t.Cleanup(func() { slog.SetDefault(old) })

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got received
			ran := false
			reply := tt.reply
			if reply == nil {
				reply = replyJSON
			}
			h := echo(&got, func(w http.ResponseWriter) { ran = true; reply(w) })
			ctx := context.WithValue(context.Background(), ctxKey{}, "lambda ctx")

			out, err := Handler(h)(ctx, tt.event)
			if err != nil {
				t.Fatalf("Handler: %v", err)
			}
			if tt.want == nil {
				if ran {
					t.Errorf("handler ran: %+v", got)
				}
			} else {
				if !ran {
					t.Fatal("handler did not run")
				}
				tt.want.CtxValue = "lambda ctx"
				if !reflect.DeepEqual(got, *tt.want) {
					t.Errorf("handler received\n got: %+v\nwant: %+v", got, *tt.want)
				}
			}
			b, err := json.Marshal(out)
			if err != nil {
				t.Fatal(err)
			}
			sameJSON(t, b, []byte(tt.resp))
		})
	}

	for _, want := range []string{`"msg":"panic in handler"`, `"request_id":"LV7fzho-PHcEJPw="`, `"panic":"boom: secret detail"`, `"stack":"goroutine`} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("panic log lacks %s:\n%s", want, logs.String())
		}
	}
}

func TestHandlerRejectsOtherEvents(t *testing.T) {
	ran := false
	h := Handler(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { ran = true }))
	for name, ev := range map[string]json.RawMessage{
		"SQS event":                event(t, "sqs-event.json", nil),
		"WebSocket disconnect":     event(t, "apigw-websocket-request-disconnect.json", nil),
		"empty object":             json.RawMessage(`{}`),
		"null":                     json.RawMessage(`null`),
		"array":                    json.RawMessage(`[1,2]`),
		"not JSON":                 json.RawMessage(`GET / HTTP/1.1`),
		"v2 without method":        event(t, v2, map[string]any{"requestContext.http": nil}),
		"v2 with wrong field type": event(t, v2, map[string]any{"headers": "x"}),
	} {
		t.Run(name, func(t *testing.T) {
			out, err := h(context.Background(), ev)
			if err == nil {
				t.Errorf("no error, answered %+v", out)
			}
		})
	}
	if ran {
		t.Error("handler ran for a non-HTTP event")
	}
}

func TestSplitPath(t *testing.T) {
	// escaped is what the handler sees as r.URL.EscapedPath().
	for _, tt := range []struct{ in, path, escaped string }{
		{"/", "/", "/"},
		{"", "/", "/"},
		{"a/b", "/a/b", "/a/b"},
		{"/a%20b", "/a b", "/a%20b"},  // REST: encoded
		{"/a b", "/a b", "/a%20b"},    // HTTP API: decoded
		{"/a%2Fb", "/a/b", "/a%2Fb"},  // an encoded slash stays distinguishable
		{"/a%41", "/aA", "/a%41"},     // a non-default encoding is kept
		{"/100%", "/100%", "/100%25"}, // bare percent
		{"/x#y?z", "/x#y?z", "/x%23y%3Fz"},
		{"/é", "/é", "/%C3%A9"},
		{"/a\x00b", "/a\x00b", "/a%00b"},
	} {
		var u url.URL
		u.Path, u.RawPath = splitPath(tt.in)
		if u.Path != tt.path || u.EscapedPath() != tt.escaped {
			t.Errorf("splitPath(%q): Path %q, EscapedPath %q; want %q, %q", tt.in, u.Path, u.EscapedPath(), tt.path, tt.escaped)
		}
	}
}

// A handler can be written for net/http and run here unchanged, including
// one that flushes.
func TestRecorderFlusher(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "a")
		if err := http.NewResponseController(w).Flush(); err != nil {
			t.Errorf("Flush: %v", err)
		}
		_, _ = io.WriteString(w, "b")
	})
	out, err := Handler(h)(context.Background(), event(t, v2, nil))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(out)
	sameJSON(t, b, []byte(`{"statusCode":200,"headers":{"Content-Type":"text/plain; charset=utf-8"},"multiValueHeaders":null,"body":"ab","cookies":null}`))
}

// Start hands Handler to lambda.Start; this runs the same value through
// aws-lambda-go's reflection and JSON encoding, as the runtime would.
func TestThroughLambdaRuntime(t *testing.T) {
	var got received
	lh := lambda.NewHandler(Handler(echo(&got, replyJSON)))
	out, err := lh.Invoke(context.Background(), event(t, v2, nil))
	if err != nil {
		t.Fatal(err)
	}
	sameJSON(t, out, []byte(okV2))
	if got.Method != "GET" || got.Header.Get("X-Request-Id") != "LV7fzho-PHcEJPw=" {
		t.Errorf("handler received %+v", got)
	}
	if _, err := lh.Invoke(context.Background(), event(t, "sqs-event.json", nil)); err == nil {
		t.Error("SQS event: no error")
	}
}
