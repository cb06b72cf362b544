// Package auth verifies Supabase access tokens (JWTs) presented to the Go
// serverless functions.
//
// Only user access tokens are accepted: Supabase API keys (the anon JWT, the
// service_role JWT, sb_publishable_/sb_secret_ keys) are rejected, because the
// functions act on behalf of a signed-in user and must never run with a
// project-wide identity just because a client shipped its API key.
package auth

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"
)

// ErrInvalidToken is wrapped by every verification failure so callers can map
// all of them to a single 401 without inspecting details.
var ErrInvalidToken = errors.New("auth: invalid token")

const (
	requiredAudience = "authenticated"
	requiredRole     = "authenticated"

	defaultLeeway          = 30 * time.Second
	defaultRefreshInterval = time.Minute
	defaultHTTPTimeout     = 5 * time.Second

	// Supabase requires the legacy JWT secret to be at least 32 characters;
	// anything shorter is a misconfiguration, not a real project secret.
	minSecretLen = 32

	// Real Supabase tokens are a few KB at most; the cap bounds the JSON and
	// base64 work an unauthenticated caller can make us do before the
	// signature has been checked.
	maxTokenLen = 16 << 10
)

// Config configures a Verifier. At least one of JWTSecret or SupabaseURL is required.
type Config struct {
	JWTSecret       []byte           // HS256 secret (SUPABASE_JWT_SECRET); may be empty if only JWKS is used
	SupabaseURL     string           // if set, JWKS at SupabaseURL + "/auth/v1/.well-known/jwks.json"
	HTTPClient      *http.Client     // for JWKS; default one with a 5s timeout
	Leeway          time.Duration    // default 30s for exp/nbf/iat; negative is an error
	Now             func() time.Time // for tests; default time.Now
	RefreshInterval time.Duration    // min time between JWKS refetches on unknown kid; default 1 minute
}

// Claims is the verified identity carried by a Supabase access token.
type Claims struct {
	UserID      string          // sub, validated canonical UUID (lowercase)
	Email       string          // email claim, may be empty (phone/anonymous users)
	Role        string          // always "authenticated" after verification
	SessionID   string          // session_id claim if present
	IsAnonymous bool            // is_anonymous claim; anonymous sign-ins still have role authenticated
	Raw         json.RawMessage // the exact decoded payload JSON, for Postgres request.jwt.claims
}

// Verifier checks Supabase access tokens. It is safe for concurrent use.
type Verifier struct {
	secret []byte
	jwks   *jwksCache // nil when no SupabaseURL is configured
	parser *jwt.Parser
}

// supabaseClaims is the decoding target for the parser. Unknown claims are
// ignored here; callers that need them read Claims.Raw.
type supabaseClaims struct {
	jwt.RegisteredClaims
	Email       string `json:"email"`
	Role        string `json:"role"`
	SessionID   string `json:"session_id"`
	IsAnonymous bool   `json:"is_anonymous"`
}

// NewVerifier validates cfg and returns a Verifier. No network I/O happens
// here: the JWKS is fetched lazily on the first asymmetric token, so a cold
// start does not pay for (or fail on) a fetch it may never need.
func NewVerifier(cfg Config) (*Verifier, error) {
	if len(cfg.JWTSecret) == 0 && cfg.SupabaseURL == "" {
		return nil, errors.New("auth: config needs JWTSecret or SupabaseURL")
	}
	if len(cfg.JWTSecret) > 0 && len(cfg.JWTSecret) < minSecretLen {
		return nil, fmt.Errorf("auth: JWTSecret must be at least %d bytes", minSecretLen)
	}
	if cfg.Leeway < 0 || cfg.RefreshInterval < 0 {
		return nil, errors.New("auth: Leeway and RefreshInterval must not be negative")
	}
	leeway := cfg.Leeway
	if leeway == 0 {
		leeway = defaultLeeway
	}
	interval := cfg.RefreshInterval
	if interval == 0 {
		interval = defaultRefreshInterval
	}
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	client := cfg.HTTPClient
	if client == nil {
		client = &http.Client{Timeout: defaultHTTPTimeout}
	}

	v := &Verifier{
		// Copied so a caller reusing its buffer cannot change the key under us.
		secret: append([]byte(nil), cfg.JWTSecret...),
		parser: jwt.NewParser(
			// The allow-list is what makes alg=none and every other
			// algorithm fail before any key is even looked up.
			jwt.WithValidMethods([]string{
				jwt.SigningMethodHS256.Alg(),
				jwt.SigningMethodES256.Alg(),
				jwt.SigningMethodRS256.Alg(),
			}),
			jwt.WithLeeway(leeway),
			jwt.WithTimeFunc(now),
			jwt.WithExpirationRequired(),
			jwt.WithIssuedAt(),
			jwt.WithAudience(requiredAudience),
			jwt.WithStrictDecoding(),
		),
	}

	if cfg.SupabaseURL != "" {
		base := strings.TrimRight(cfg.SupabaseURL, "/")
		u, err := url.Parse(base)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return nil, errors.New("auth: SupabaseURL must be an absolute http(s) URL")
		}
		v.jwks = newJWKSCache(base+"/auth/v1/.well-known/jwks.json", client, now, interval)
	}
	return v, nil
}

// Verify checks token and returns its claims. Every error wraps ErrInvalidToken.
func (v *Verifier) Verify(ctx context.Context, token string) (*Claims, error) {
	if ctx == nil {
		ctx = context.Background()
	}
	switch {
	case token == "":
		return nil, invalid("empty token", nil)
	case len(token) > maxTokenLen:
		return nil, invalid("token too large", nil)
	case strings.HasPrefix(token, "sb_"):
		// sb_publishable_/sb_secret_ keys would fail as malformed anyway; the
		// explicit message saves someone an hour of debugging a client that
		// sends the API key instead of the session's access token.
		return nil, invalid("Supabase API key is not a user access token", nil)
	}

	var sc supabaseClaims
	if _, err := v.parser.ParseWithClaims(token, &sc, v.keyfunc(ctx)); err != nil {
		return nil, classify(err)
	}

	// The anon and service_role keys are validly signed JWTs too; role is
	// what tells them apart from a user's session.
	if sc.Role != requiredRole {
		return nil, invalid("role must be authenticated", nil)
	}
	if sc.Subject == "" {
		return nil, invalid("missing subject", nil)
	}
	id, err := uuid.Parse(sc.Subject)
	// Demanding the canonical spelling keeps UserID byte-identical to the sub
	// that Postgres' auth.uid() will see in Raw.
	if err != nil || id.String() != sc.Subject || id == uuid.Nil {
		return nil, invalid("subject is not a canonical user UUID", nil)
	}

	// The signature covers the base64 text, so decoding it again yields
	// exactly the bytes Supabase signed (the parser already proved it decodes
	// and is valid JSON).
	payloadB64 := token[strings.IndexByte(token, '.')+1 : strings.LastIndexByte(token, '.')]
	raw, err := base64.RawURLEncoding.Strict().DecodeString(payloadB64)
	if err != nil {
		return nil, invalid("malformed token", err)
	}

	return &Claims{
		UserID:      sc.Subject,
		Email:       sc.Email,
		Role:        sc.Role,
		SessionID:   sc.SessionID,
		IsAnonymous: sc.IsAnonymous,
		Raw:         json.RawMessage(raw),
	}, nil
}

// keyfunc picks the verification key from the key material we trust, never
// from the header: the header only selects among our keys (via kid) and must
// then agree with the algorithm that key is bound to.
func (v *Verifier) keyfunc(ctx context.Context) jwt.Keyfunc {
	return func(t *jwt.Token) (any, error) {
		// RFC 7515 §4.1.11: a recipient that does not understand a critical
		// extension must reject the token; we understand none.
		if _, ok := t.Header["crit"]; ok {
			return nil, invalid("unsupported critical header", nil)
		}
		alg := t.Method.Alg()
		switch alg {
		case jwt.SigningMethodHS256.Alg():
			if len(v.secret) == 0 {
				return nil, invalid("HS256 tokens are not accepted (no JWT secret configured)", nil)
			}
			// kid is deliberately ignored: an HS256 token can never select a
			// public key as its HMAC secret.
			return v.secret, nil
		case jwt.SigningMethodES256.Alg(), jwt.SigningMethodRS256.Alg():
			if v.jwks == nil {
				return nil, invalid("asymmetric tokens are not accepted (no SupabaseURL configured)", nil)
			}
			kid, _ := t.Header["kid"].(string)
			if kid == "" {
				return nil, invalid("missing key id", nil)
			}
			k, err := v.jwks.lookup(ctx, kid)
			if err != nil {
				return nil, err
			}
			if k.alg != alg || k.key == nil {
				return nil, invalid("token algorithm does not match its signing key", nil)
			}
			return k.key, nil
		default:
			// Unreachable while WithValidMethods is in place; kept so that
			// widening that list cannot silently accept an unkeyed algorithm.
			return nil, invalid("signing algorithm not allowed", nil)
		}
	}
}

// BearerToken extracts the token from an Authorization header value of the
// form "Bearer <token>" (scheme case-insensitive, surrounding space ignored).
func BearerToken(authorizationHeader string) (string, bool) {
	scheme, tok, ok := strings.Cut(strings.TrimSpace(authorizationHeader), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	tok = strings.TrimSpace(tok)
	if tok == "" || strings.ContainsAny(tok, " \t\r\n") {
		return "", false
	}
	return tok, true
}

// verifyError keeps a human message separate from its cause: Error() never
// includes the cause, because jwt/json errors can echo pieces of the token and
// these messages end up in logs.
type verifyError struct {
	msg   string
	cause error
}

func (e *verifyError) Error() string { return ErrInvalidToken.Error() + ": " + e.msg }

func (e *verifyError) Unwrap() []error {
	if e.cause == nil {
		return []error{ErrInvalidToken}
	}
	return []error{ErrInvalidToken, e.cause}
}

func invalid(msg string, cause error) error { return &verifyError{msg: msg, cause: cause} }

// classify turns a jwt parser error into a verifyError with a fixed message.
func classify(err error) error {
	var ve *verifyError
	if errors.As(err, &ve) { // our own keyfunc error, already phrased
		return ve
	}
	var msg string
	switch {
	case errors.Is(err, jwt.ErrTokenMalformed):
		msg = "malformed token"
	case errors.Is(err, jwt.ErrTokenSignatureInvalid):
		msg = "signature invalid or algorithm not allowed"
	case errors.Is(err, jwt.ErrTokenExpired):
		msg = "token expired"
	case errors.Is(err, jwt.ErrTokenNotValidYet):
		msg = "token not valid yet"
	case errors.Is(err, jwt.ErrTokenUsedBeforeIssued):
		msg = "token issued in the future"
	case errors.Is(err, jwt.ErrTokenInvalidAudience):
		msg = "audience must include authenticated"
	case errors.Is(err, jwt.ErrTokenRequiredClaimMissing):
		msg = "required claim (exp or aud) missing"
	default:
		msg = "token could not be verified"
	}
	return invalid(msg, err)
}
