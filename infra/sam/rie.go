package sam

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// RIEVersion is the emulator the test command installs with `go install`.
const RIEVersion = "github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie@v0.0.0-20261030222936-bef5c4ba774d"

// FindRIE returns the aws-lambda-rie binary: $AWS_LAMBDA_RIE, PATH, or $(go env GOPATH)/bin.
func FindRIE() (string, error) {
	if p := os.Getenv("AWS_LAMBDA_RIE"); p != "" {
		return p, nil
	}
	if p, err := exec.LookPath("aws-lambda-rie"); err == nil {
		return p, nil
	}
	out, err := exec.Command("go", "env", "GOPATH").Output()
	if err == nil {
		p := filepath.Join(strings.TrimSpace(string(out)), "bin", "aws-lambda-rie")
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("aws-lambda-rie not found: go install %s", RIEVersion)
}

// Emulator is a bootstrap running under the Runtime Interface Emulator.
type Emulator struct {
	URL     string // invocations endpoint
	cmd     *exec.Cmd
	Output  *bytes.Buffer
	Started time.Time
}

// StartEmulator runs bootstrap under the emulator with env, on free loopback
// ports, and waits until the emulator accepts invocations. The emulator
// starts the bootstrap at the first invocation, as Lambda does on a cold start.
func StartEmulator(ctx context.Context, bootstrap string, env map[string]string) (*Emulator, error) {
	rie, err := FindRIE()
	if err != nil {
		return nil, err
	}
	apiPort, err := freePort()
	if err != nil {
		return nil, err
	}
	rtPort, err := freePort()
	if err != nil {
		return nil, err
	}
	e := &Emulator{Output: &bytes.Buffer{}, Started: time.Now()}
	addr := "127.0.0.1:" + strconv.Itoa(apiPort)
	e.cmd = exec.Command(rie,
		"--runtime-interface-emulator-address", addr,
		"--runtime-api-address", "127.0.0.1:"+strconv.Itoa(rtPort),
		"--log-level", "error",
		bootstrap)
	e.cmd.Dir = filepath.Dir(bootstrap)
	e.cmd.Env = append(EnvList(env), "PATH="+os.Getenv("PATH"), "HOME="+os.TempDir(),
		"AWS_LAMBDA_FUNCTION_TIMEOUT=29", "AWS_REGION=us-east-1")
	e.cmd.Stdout, e.cmd.Stderr = e.Output, e.Output
	e.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // the bootstrap is its child: stop both
	if err := e.cmd.Start(); err != nil {
		return nil, err
	}
	e.URL = "http://" + addr + "/2015-03-31/functions/function/invocations"
	for {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err == nil {
			c.Close()
			return e, nil
		}
		if ctx.Err() != nil {
			e.Stop()
			return nil, fmt.Errorf("emulator did not start: %v\n%s", err, e.Output)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Stop ends the emulator and the bootstrap.
func (e *Emulator) Stop() {
	if e.cmd.Process == nil {
		return
	}
	_ = syscall.Kill(-e.cmd.Process.Pid, syscall.SIGKILL)
	_ = e.cmd.Wait()
}

// Answer is a function's response, from either event format.
type Answer struct {
	Status  int
	Headers map[string]string
	Body    string
}

// Invoke sends one event and decodes the API Gateway response it returns.
func (e *Emulator) Invoke(ctx context.Context, event any) (Answer, error) {
	b, err := json.Marshal(event)
	if err != nil {
		return Answer{}, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, e.URL, bytes.NewReader(b))
	if err != nil {
		return Answer{}, err
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return Answer{}, err
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	var out struct {
		StatusCode        int                 `json:"statusCode"`
		Headers           map[string]string   `json:"headers"`
		MultiValueHeaders map[string][]string `json:"multiValueHeaders"`
		Body              string              `json:"body"`
		IsBase64Encoded   bool                `json:"isBase64Encoded"`
	}
	if err := json.Unmarshal(raw, &out); err != nil || out.StatusCode == 0 {
		return Answer{}, fmt.Errorf("not an API Gateway response: %s", raw)
	}
	a := Answer{Status: out.StatusCode, Headers: map[string]string{}, Body: out.Body}
	for k, v := range out.Headers {
		a.Headers[strings.ToLower(k)] = v
	}
	for k, v := range out.MultiValueHeaders {
		a.Headers[strings.ToLower(k)] = strings.Join(v, ", ")
	}
	if out.IsBase64Encoded {
		d, err := base64.StdEncoding.DecodeString(out.Body)
		if err != nil {
			return a, err
		}
		a.Body = string(d)
	}
	return a, nil
}

// Request is what a test wants sent, in either event format.
type Request struct {
	Method, Path string
	Query        url.Values
	Headers      map[string]string
	Body         string
	Base64       bool // send the body base64-encoded, as API Gateway does for binary media
}

// V2 builds an HTTP API (payload format 2.0) event.
func (r Request) V2(id string) map[string]any {
	body, b64 := r.body()
	return map[string]any{
		"version": "2.0", "routeKey": "ANY " + r.Path, "rawPath": r.Path, "rawQueryString": r.Query.Encode(),
		"headers": r.Headers, "isBase64Encoded": b64, "body": body,
		"requestContext": map[string]any{
			"requestId": id, "stage": "$default", "timeEpoch": time.Now().UnixMilli(),
			"http": map[string]any{"method": r.Method, "path": r.Path, "protocol": "HTTP/1.1", "sourceIp": "203.0.113.9", "userAgent": "rie-test"},
		},
	}
}

// V1 builds a REST API (payload format 1.0) event.
func (r Request) V1(id string) map[string]any {
	body, b64 := r.body()
	single, multi := map[string]string{}, map[string][]string{}
	for k, v := range r.Query {
		single[k], multi[k] = v[len(v)-1], v
	}
	var q, mq any
	if len(single) > 0 {
		q, mq = single, multi
	}
	var b any
	if body != "" {
		b = body
	}
	return map[string]any{
		"resource": r.Path, "path": r.Path, "httpMethod": r.Method, "headers": r.Headers,
		"queryStringParameters": q, "multiValueQueryStringParameters": mq,
		"isBase64Encoded": b64, "body": b,
		"requestContext": map[string]any{"requestId": id, "stage": "prod", "httpMethod": r.Method,
			"identity": map[string]any{"sourceIp": "203.0.113.9"}},
	}
}

func (r Request) body() (string, bool) {
	if r.Base64 && r.Body != "" {
		return base64.StdEncoding.EncodeToString([]byte(r.Body)), true
	}
	return r.Body, false
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
