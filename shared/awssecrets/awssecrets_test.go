package awssecrets_test

import (
	"context"
	"testing"

	"github.com/pvetenant/backend/shared/awssecrets"
	"github.com/pvetenant/backend/shared/awssecrets/smtest"
)

// BenchmarkColdFetch is what a cold start adds: building the client and one
// signed GetSecretValue over a new connection to a loopback stand-in (the
// network to the real service, ~1-5 ms in-region, comes on top).
//
//	go test -run X -bench ColdFetch -benchtime 200x ./shared/awssecrets/
func BenchmarkColdFetch(b *testing.B) {
	arn := smtest.ARN("bench")
	sm := smtest.New(map[string]string{arn: `{"DATABASE_URL":"postgres://x","CREDENTIALS_KEY":"k"}`})
	defer sm.Close()
	want := []awssecrets.Key{{Name: "DATABASE_URL", Required: true}, {Name: "CREDENTIALS_KEY", Required: true}}
	for i := 0; i < b.N; i++ {
		got, err := awssecrets.Fetch(context.Background(), awssecrets.Source{ARN: arn, Endpoint: sm.URL,
			AccessKeyID: "AKIDEXAMPLE", SecretAccessKey: "secret"}, want)
		if err != nil || got["CREDENTIALS_KEY"] != "k" {
			b.Fatal(err)
		}
	}
}

// The region comes from the ARN when AWS_REGION is not set, and no
// credentials is a sentence, not a crash.
func TestFetchWithoutRegionOrCredentials(t *testing.T) {
	arn := smtest.ARN("x")
	sm := smtest.New(map[string]string{arn: `{"DATABASE_URL":"postgres://x"}`})
	defer sm.Close()
	got, err := awssecrets.Fetch(context.Background(), awssecrets.Source{ARN: arn, Endpoint: sm.URL, AccessKeyID: "a", SecretAccessKey: "b"},
		[]awssecrets.Key{{Name: "DATABASE_URL", Required: true}})
	if err != nil || got["DATABASE_URL"] != "postgres://x" {
		t.Fatalf("%v %v", got, err)
	}
	_, err = awssecrets.Fetch(context.Background(), awssecrets.Source{ARN: arn, Endpoint: sm.URL}, []awssecrets.Key{{Name: "DATABASE_URL"}})
	if err == nil || sm.Calls.Load() != 1 {
		t.Fatalf("without credentials: %v, %d calls", err, sm.Calls.Load())
	}
}
