package auth

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

func expectInvalid(t *testing.T, v *Verifier, ctx context.Context, tok string) error {
	t.Helper()
	c, err := v.Verify(ctx, tok)
	if err == nil {
		t.Fatalf("accepted: %+v", c)
	}
	if !errors.Is(err, ErrInvalidToken) {
		t.Fatalf("error %v does not wrap ErrInvalidToken", err)
	}
	return err
}

func expectHits(t *testing.T, s *jwksServer, want int64) {
	t.Helper()
	if got := s.hits.Load(); got != want {
		t.Fatalf("JWKS fetched %d times, want %d", got, want)
	}
}

func TestRotation(t *testing.T) {
	e := newEnv(t, Config{RefreshInterval: time.Minute}, ecJWK("A", ecKeyA))
	tokA := sign(t, jwt.SigningMethodES256, ecKeyA, "A", validClaims(t0))
	tokB := sign(t, jwt.SigningMethodES256, ecKeyB, "B", validClaims(t0))
	tokC := sign(t, jwt.SigningMethodES256, ecKeyC, "C", validClaims(t0))

	expectHits(t, e.srv, 0) // lazy: nothing fetched before the first token
	mustVerify(t, e.v, tokA)
	expectHits(t, e.srv, 1)

	// Rotation: A is revoked, B is the new signing key.
	e.srv.setKeys(t, ecJWK("B", ecKeyB))
	e.clock.Advance(time.Minute + time.Second)
	mustVerify(t, e.v, tokB)
	expectHits(t, e.srv, 2)
	mustVerify(t, e.v, tokB) // served from cache
	expectHits(t, e.srv, 2)

	// A is gone from the refreshed set, and the interval has not elapsed.
	expectInvalid(t, e.v, context.Background(), tokA)
	expectHits(t, e.srv, 2)

	// A second unknown kid inside the interval must not cause another fetch,
	// even though the server would now be able to answer it.
	e.srv.setKeys(t, ecJWK("B", ecKeyB), ecJWK("C", ecKeyC))
	e.clock.Advance(30 * time.Second)
	expectInvalid(t, e.v, context.Background(), tokC)
	expectHits(t, e.srv, 2)

	// Once the interval since the last fetch has passed, it may refetch.
	e.clock.Advance(31 * time.Second)
	mustVerify(t, e.v, tokC)
	expectHits(t, e.srv, 3)
	mustVerify(t, e.v, tokB)
	expectHits(t, e.srv, 3)
}

func TestRotationRealClock(t *testing.T) {
	// Same property with the default clock and a short interval, to make sure
	// nothing depends on the injected Now.
	srv := newJWKSServer(t, ecJWK("A", ecKeyA))
	v, err := NewVerifier(Config{SupabaseURL: srv.URL, RefreshInterval: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	tokB := sign(t, jwt.SigningMethodES256, ecKeyB, "B", validClaims(now))
	mustVerify(t, v, sign(t, jwt.SigningMethodES256, ecKeyA, "A", validClaims(now)))
	srv.setKeys(t, ecJWK("A", ecKeyA), ecJWK("B", ecKeyB))
	// Only the "interval has passed" half is checked on the real clock: the
	// "still within the interval" half would depend on how fast this machine
	// runs (TestRotation covers it on an injected clock).
	time.Sleep(350 * time.Millisecond)
	mustVerify(t, v, tokB)
	expectHits(t, srv, 2)
}

func TestNoStampede(t *testing.T) {
	e := newEnv(t, Config{}, ecJWK("A", ecKeyA))
	e.srv.delay.Store(int64(50 * time.Millisecond))
	tokA := sign(t, jwt.SigningMethodES256, ecKeyA, "A", validClaims(t0))
	tokX := sign(t, jwt.SigningMethodES256, ecKeyB, "unknown", validClaims(t0))

	var wg sync.WaitGroup
	errs := make(chan error, 100)
	for i := range 100 {
		wg.Go(func() {
			tok := tokA
			if i%2 == 1 {
				tok = tokX
			}
			_, err := e.v.Verify(context.Background(), tok)
			if (err == nil) != (tok == tokA) {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("unexpected result: %v", err)
	}
	expectHits(t, e.srv, 1)
}

func TestJWKSFailures(t *testing.T) {
	tok := sign(t, jwt.SigningMethodES256, ecKeyA, "A", validClaims(t0))

	t.Run("server error then recovery after interval", func(t *testing.T) {
		e := newEnv(t, Config{}, ecJWK("A", ecKeyA))
		e.srv.status.Store(http.StatusInternalServerError)
		expectInvalid(t, e.v, context.Background(), tok)
		expectHits(t, e.srv, 1)
		// A failed fetch counts against the interval: no hammering.
		e.srv.status.Store(http.StatusOK)
		expectInvalid(t, e.v, context.Background(), tok)
		expectHits(t, e.srv, 1)
		e.clock.Advance(time.Minute)
		mustVerify(t, e.v, tok)
		expectHits(t, e.srv, 2)
	})

	bodies := map[string]string{
		"not JSON":     `<html>oops</html>`,
		"no keys":      `{}`,
		"keys null":    `{"keys":null}`,
		"empty set":    `{"keys":[]}`,
		"junk entries": `{"keys":[1,"x",{"kty":"EC","kid":"A","crv":"P-256","x":"!!","y":"??"}]}`,
		"off-curve point": `{"keys":[{"kty":"EC","kid":"A","crv":"P-256",` +
			`"x":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAE","y":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAE"}]}`,
		"P-384 curve":     `{"keys":[{"kty":"EC","kid":"A","crv":"P-384","x":"AA","y":"AA"}]}`,
		"use enc":         `{"keys":[` + mustJSON(with(ecJWK("A", ecKeyA), "use", "enc")) + `]}`,
		"key_ops encrypt": `{"keys":[` + mustJSON(with(ecJWK("A", ecKeyA), "key_ops", []string{"encrypt"})) + `]}`,
		"duplicate kid":   `{"keys":[` + mustJSON(ecJWK("A", ecKeyA)) + `,` + mustJSON(ecJWK("A", ecKeyB)) + `]}`,
		"small RSA":       `{"keys":[{"kty":"RSA","kid":"A","n":"AQAB","e":"AQAB"}]}`,
	}
	for name, body := range bodies {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t, Config{})
			e.srv.setBody([]byte(body))
			expectInvalid(t, e.v, context.Background(), tok)
		})
	}

	t.Run("server unreachable", func(t *testing.T) {
		e := newEnv(t, Config{}, ecJWK("A", ecKeyA))
		e.srv.Close()
		expectInvalid(t, e.v, context.Background(), tok)
	})

	t.Run("slow server hits our deadline", func(t *testing.T) {
		e := newEnv(t, Config{}, ecJWK("A", ecKeyA))
		e.v.jwks.fetchTimeout = 50 * time.Millisecond
		e.srv.delay.Store(int64(5 * time.Second))
		start := time.Now()
		expectInvalid(t, e.v, context.Background(), tok)
		if d := time.Since(start); d > 2*time.Second {
			t.Fatalf("fetch took %v despite the deadline", d)
		}
	})

	t.Run("caller cancellation does not burn the interval", func(t *testing.T) {
		e := newEnv(t, Config{}, ecJWK("A", ecKeyA))
		e.srv.delay.Store(int64(time.Second))
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
		defer cancel()
		expectInvalid(t, e.v, ctx, tok)
		e.srv.delay.Store(0)
		mustVerify(t, e.v, tok) // same clock instant: only allowed because the cancelled attempt did not count
	})

	t.Run("cancelled while queued behind a fetch", func(t *testing.T) {
		e := newEnv(t, Config{}, ecJWK("A", ecKeyA))
		e.srv.delay.Store(int64(300 * time.Millisecond))
		done := make(chan struct{})
		go func() {
			defer close(done)
			_, _ = e.v.Verify(context.Background(), tok)
		}()
		for e.srv.hits.Load() == 0 {
			time.Sleep(time.Millisecond)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
		defer cancel()
		start := time.Now()
		expectInvalid(t, e.v, ctx, tok)
		if d := time.Since(start); d > 200*time.Millisecond {
			t.Fatalf("queued caller waited %v past its deadline", d)
		}
		<-done
		expectHits(t, e.srv, 1)
	})
}

func TestStaleKeysRefreshed(t *testing.T) {
	e := newEnv(t, Config{}, ecJWK("A", ecKeyA), ecJWK("B", ecKeyB))
	tokA := sign(t, jwt.SigningMethodES256, ecKeyA, "A", validClaims(t0))
	mustVerify(t, e.v, tokA)

	// Endpoint down when the cache goes stale: keep serving known keys.
	e.clock.Advance(jwksMaxAge)
	e.srv.status.Store(http.StatusBadGateway)
	tokA = sign(t, jwt.SigningMethodES256, ecKeyA, "A", validClaims(e.clock.Now()))
	mustVerify(t, e.v, tokA)
	expectHits(t, e.srv, 2)

	// A revoked in the dashboard: gone after the next stale refresh.
	e.srv.status.Store(http.StatusOK)
	e.srv.setKeys(t, ecJWK("B", ecKeyB))
	e.clock.Advance(time.Minute)
	expectInvalid(t, e.v, context.Background(), tokA)
	expectHits(t, e.srv, 3)
}

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}
