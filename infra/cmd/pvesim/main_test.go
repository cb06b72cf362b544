package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// syncBuffer is a goroutine-safe output sink.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestRunPrintsAndStops(t *testing.T) {
	dir := t.TempDir()
	pem := filepath.Join(dir, "cert.pem")
	ctx, cancel := context.WithCancel(context.Background())
	out := &syncBuffer{}
	errc := make(chan error, 1)
	go func() {
		errc <- run(ctx, []string{"-addr", "127.0.0.1:0", "-topology", "standalone", "-pve-version", "9",
			"-token", "ops@pve!ci=abc", "-user", "admin@pve:pw", "-cert-out", pem}, out)
	}()
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(out.String(), "fingerprint:") && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	got := out.String()
	for _, want := range []string{"PVE 9.0.3", "https://127.0.0.1:", "token:       ops@pve!ci=abc", "user:        admin@pve password pw"} {
		if !strings.Contains(got, want) {
			t.Errorf("output lacks %q:\n%s", want, got)
		}
	}
	if b, err := os.ReadFile(pem); err != nil || !bytes.HasPrefix(b, []byte("-----BEGIN CERTIFICATE-----")) {
		t.Errorf("cert-out: %v", err)
	}
	cancel()
	select {
	case err := <-errc:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("run did not stop")
	}
}

func TestRunRejects(t *testing.T) {
	for _, args := range [][]string{
		{"-addr", "0.0.0.0:0"},
		{"-topology", "nope"},
		{"-token", "missing-secret"},
		{"-user", "nopassword"},
	} {
		if err := run(context.Background(), args, &syncBuffer{}); err == nil {
			t.Errorf("%v accepted", args)
		}
	}
}
