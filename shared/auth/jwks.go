package auth

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"
)

const (
	// Our own deadline, applied even when the caller's ctx has none and the
	// configured HTTPClient has no Timeout, so a hung JWKS endpoint cannot
	// hold requests (and the single fetch slot) indefinitely.
	defaultFetchTimeout = 5 * time.Second

	// A real JWKS is a few hundred bytes; the cap keeps a misbehaving
	// endpoint from making us buffer arbitrary amounts.
	maxJWKSBytes = 1 << 20

	// Keys are refetched after this age even if every kid is known, so a key
	// revoked in the Supabase dashboard stops being trusted within roughly
	// this window (Supabase's own JWKS endpoint is cached for about as long).
	jwksMaxAge = 10 * time.Minute

	minRSABits = 2048
	maxRSABits = 8192
)

// verificationKey is a JWKS entry reduced to what verification needs. alg is
// the one algorithm this key may verify: the JWK's own alg if it declared
// one, otherwise the only algorithm we accept for its key type.
type verificationKey struct {
	alg string
	key crypto.PublicKey // nil for entries we recognise by kid but cannot use
}

// jwksCache fetches the project's JWKS lazily and refetches it when a token
// names a kid it does not know, at most once per interval. fetchSlot (a
// one-element semaphore rather than a mutex, so waiting honours ctx) ensures
// only one fetch runs at a time; callers queued behind it reuse its result.
type jwksCache struct {
	url          string
	client       *http.Client
	now          func() time.Time
	interval     time.Duration
	fetchTimeout time.Duration

	fetchSlot chan struct{}

	mu          sync.RWMutex
	keys        map[string]verificationKey
	gen         uint64    // incremented by every successful fetch
	fetching    bool      // a fetch is in flight; its result may hold the kid
	lastAttempt time.Time // zero until the first attempt that counted
	lastSuccess time.Time
}

func newJWKSCache(url string, client *http.Client, now func() time.Time, interval time.Duration) *jwksCache {
	return &jwksCache{
		url:          url,
		client:       client,
		now:          now,
		interval:     interval,
		fetchTimeout: defaultFetchTimeout,
		fetchSlot:    make(chan struct{}, 1),
	}
}

func (c *jwksCache) lookup(ctx context.Context, kid string) (verificationKey, error) {
	c.mu.RLock()
	k, known := c.keys[kid]
	gen := c.gen
	now := c.now()
	mayFetch := c.lastAttempt.IsZero() || now.Sub(c.lastAttempt) >= c.interval
	stale := gen > 0 && now.Sub(c.lastSuccess) >= jwksMaxAge
	fetching := c.fetching
	c.mu.RUnlock()

	if known && (!stale || !mayFetch) {
		return k, nil
	}
	if !known && !mayFetch && !fetching {
		// Checked before taking the fetch slot so a flood of tokens with
		// made-up kids costs a map lookup, not a queue. While a fetch is in
		// flight we do queue: it may be the one that brings this kid.
		return verificationKey{}, invalid("unknown signing key", nil)
	}

	// A stale-but-known key must not make the request wait behind someone
	// else's fetch; it is still good enough until a refresh succeeds.
	fetchErr := c.refresh(ctx, gen, !known)

	c.mu.RLock()
	k, known = c.keys[kid]
	c.mu.RUnlock()
	if known {
		return k, nil
	}
	if fetchErr != nil {
		return verificationKey{}, fetchErr
	}
	return verificationKey{}, invalid("unknown signing key", nil)
}

// refresh fetches the JWKS unless another caller already did so since seenGen
// or the rate limit forbids it. wait says whether to queue for the fetch slot
// or give up immediately if it is taken.
func (c *jwksCache) refresh(ctx context.Context, seenGen uint64, wait bool) error {
	if wait {
		select {
		case c.fetchSlot <- struct{}{}:
		case <-ctx.Done():
			return invalid("signing keys unavailable", ctx.Err())
		}
	} else {
		select {
		case c.fetchSlot <- struct{}{}:
		default:
			return nil
		}
	}
	defer func() { <-c.fetchSlot }()

	// lastAttempt and gen are only written while holding fetchSlot, so these
	// reads cannot race with a writer; mu is for lookup, which reads without the slot.
	if c.gen != seenGen {
		return nil // someone refreshed while we queued; the caller re-reads
	}
	now := c.now()
	if !c.lastAttempt.IsZero() && now.Sub(c.lastAttempt) < c.interval {
		return invalid("unknown signing key", nil)
	}
	prevAttempt := c.lastAttempt
	c.mu.Lock()
	c.lastAttempt = now // failures count too, so a broken endpoint is not hammered
	c.fetching = true
	c.mu.Unlock()

	keys, err := c.fetch(ctx)

	c.mu.Lock()
	defer c.mu.Unlock()
	c.fetching = false
	if err != nil {
		if ctx.Err() != nil {
			// The caller gave up (client disconnected, request deadline):
			// that says nothing about the endpoint, so don't lock every
			// other caller out for a whole interval because of it.
			c.lastAttempt = prevAttempt
		}
		return invalid("signing keys unavailable", err)
	}
	c.keys = keys
	c.gen++
	c.lastSuccess = now
	return nil
}

func (c *jwksCache) fetch(ctx context.Context) (map[string]verificationKey, error) {
	ctx, cancel := context.WithTimeout(ctx, c.fetchTimeout)
	defer cancel()

	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.url, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := c.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("fetch JWKS: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("fetch JWKS: unexpected status %d", resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxJWKSBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read JWKS: %w", err)
	}
	if len(body) > maxJWKSBytes {
		return nil, errors.New("read JWKS: response too large")
	}
	return parseJWKS(body)
}

type rawJWK struct {
	Kty    string   `json:"kty"`
	Kid    string   `json:"kid"`
	Alg    string   `json:"alg"`
	Use    string   `json:"use"`
	KeyOps []string `json:"key_ops"`
	Crv    string   `json:"crv"`
	X      string   `json:"x"`
	Y      string   `json:"y"`
	N      string   `json:"n"`
	E      string   `json:"e"`
}

// parseJWKS fails only if the document as a whole is unusable; individual
// keys we cannot use are kept as unusable entries so that their kid counts as
// known and does not trigger pointless refetches.
func parseJWKS(body []byte) (map[string]verificationKey, error) {
	var set struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(body, &set); err != nil {
		return nil, fmt.Errorf("decode JWKS: %w", err)
	}
	if set.Keys == nil {
		return nil, errors.New("decode JWKS: no keys member")
	}
	keys := make(map[string]verificationKey, len(set.Keys))
	for _, rawKey := range set.Keys {
		var j rawJWK
		if err := json.Unmarshal(rawKey, &j); err != nil || j.Kid == "" {
			continue // without a kid a key can never be selected
		}
		if _, dup := keys[j.Kid]; dup {
			// Two keys under one kid make the selection ambiguous; trusting
			// either could mean trusting the wrong one, so trust neither.
			keys[j.Kid] = verificationKey{}
			continue
		}
		keys[j.Kid] = parseJWK(j)
	}
	return keys, nil
}

func parseJWK(j rawJWK) verificationKey {
	if j.Use != "" && j.Use != "sig" {
		return verificationKey{}
	}
	if j.KeyOps != nil && !slices.Contains(j.KeyOps, "verify") {
		return verificationKey{}
	}
	switch j.Kty {
	case "RSA":
		if j.Alg != "" && j.Alg != "RS256" {
			return verificationKey{alg: j.Alg}
		}
		if k, err := parseRSA(j); err == nil {
			return verificationKey{alg: "RS256", key: k}
		}
	case "EC":
		if j.Alg != "" && j.Alg != "ES256" {
			return verificationKey{alg: j.Alg}
		}
		if k, err := parseP256(j); err == nil {
			return verificationKey{alg: "ES256", key: k}
		}
	}
	return verificationKey{}
}

func parseRSA(j rawJWK) (*rsa.PublicKey, error) {
	nb, err := b64url(j.N)
	if err != nil {
		return nil, err
	}
	eb, err := b64url(j.E)
	if err != nil {
		return nil, err
	}
	n := new(big.Int).SetBytes(nb)
	if n.BitLen() < minRSABits || n.BitLen() > maxRSABits {
		return nil, errors.New("RSA modulus size out of range")
	}
	if len(eb) == 0 || len(eb) > 4 {
		return nil, errors.New("RSA exponent out of range")
	}
	var e uint64
	for _, b := range eb {
		e = e<<8 | uint64(b)
	}
	if e < 3 || e%2 == 0 || e > 1<<31-1 {
		return nil, errors.New("RSA exponent out of range")
	}
	return &rsa.PublicKey{N: n, E: int(e)}, nil
}

func parseP256(j rawJWK) (*ecdsa.PublicKey, error) {
	if j.Crv != "P-256" {
		return nil, errors.New("unsupported curve")
	}
	x, err := b64url(j.X)
	if err != nil {
		return nil, err
	}
	y, err := b64url(j.Y)
	if err != nil {
		return nil, err
	}
	// RFC 7518 §6.2.1.2 fixes the coordinate length to the field size.
	if len(x) != 32 || len(y) != 32 {
		return nil, errors.New("bad P-256 coordinate length")
	}
	point := make([]byte, 0, 65)
	point = append(point, 4) // uncompressed point marker
	point = append(point, x...)
	point = append(point, y...)
	// Rejects points not on the curve, which would otherwise let a bad JWKS
	// entry feed invalid-curve inputs into ECDSA.
	return ecdsa.ParseUncompressedPublicKey(elliptic.P256(), point)
}

// b64url tolerates padding because some JWKS producers emit it despite RFC 7518.
func b64url(s string) ([]byte, error) {
	return base64.RawURLEncoding.DecodeString(strings.TrimRight(s, "="))
}
