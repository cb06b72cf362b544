// Package smtest is a local stand-in for AWS Secrets Manager's
// GetSecretValue, speaking its wire protocol (AWS JSON 1.1): POST / with
// X-Amz-Target "secretsmanager.GetSecretValue" and a JSON body
// {"SecretId": ...}; answers {"ARN", "Name", "SecretString", "VersionId",
// ...} or an error with "__type" (read by smithy-go,
// transport/http/protocol/awsjson/awsjson.go, SerializeRequest and
// deserializeError). Tests point the SDK at it with BaseEndpoint.
package smtest

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
)

// Server holds secrets by ARN.
type Server struct {
	*httptest.Server
	mu      sync.Mutex
	secrets map[string]string
	Calls   atomic.Int64
	// Unsigned counts requests without a SigV4 signature for the
	// secretsmanager service.
	Unsigned atomic.Int64
}

// New starts a server holding secrets (ARN -> SecretString).
func New(secrets map[string]string) *Server {
	s := &Server{secrets: map[string]string{}}
	for k, v := range secrets {
		s.secrets[k] = v
	}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	return s
}

// ARN returns a well-formed ARN for name in us-east-1.
func ARN(name string) string {
	return "arn:aws:secretsmanager:us-east-1:123456789012:secret:" + name + "-AbCdEf"
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	s.Calls.Add(1)
	if !strings.Contains(r.Header.Get("Authorization"), "/secretsmanager/aws4_request") {
		s.Unsigned.Add(1)
	}
	if r.Method != http.MethodPost || r.Header.Get("X-Amz-Target") != "secretsmanager.GetSecretValue" {
		fail(w, http.StatusBadRequest, "UnknownOperationException", "")
		return
	}
	var in struct {
		SecretId string `json:"SecretId"`
	}
	b, _ := io.ReadAll(r.Body)
	if json.Unmarshal(b, &in) != nil || in.SecretId == "" {
		fail(w, http.StatusBadRequest, "InvalidParameterException", "SecretId is required.")
		return
	}
	s.mu.Lock()
	v, ok := s.secrets[in.SecretId]
	s.mu.Unlock()
	if !ok {
		// The real service's answer for an unknown secret.
		fail(w, http.StatusBadRequest, "ResourceNotFoundException", "Secrets Manager can't find the specified secret.")
		return
	}
	name := in.SecretId
	if i := strings.LastIndex(name, ":"); i >= 0 {
		name = name[i+1:]
	}
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	_ = json.NewEncoder(w).Encode(map[string]any{
		"ARN": in.SecretId, "Name": name, "SecretString": v,
		"VersionId": "00000000-0000-0000-0000-000000000001", "VersionStages": []string{"AWSCURRENT"},
		"CreatedDate": 1.7e9,
	})
}

func fail(w http.ResponseWriter, status int, typ, msg string) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.Header().Set("X-Amzn-ErrorType", typ)
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"__type": typ, "message": msg})
}
