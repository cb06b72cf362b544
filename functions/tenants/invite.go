package tenants

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/supabase-community/gotrue-go"
	"github.com/supabase-community/gotrue-go/types"
	supabase "github.com/supabase-community/supabase-go"
)

// inviter invites a person by email and returns the id of their new account.
type inviter interface {
	Invite(ctx context.Context, email string) (string, error)
}

// inviteTimeout bounds the call to Supabase Auth, which sends an email before
// it answers; the request's own deadline may end it sooner.
const inviteTimeout = 8 * time.Second

// authInviter calls Supabase Auth's admin API (POST /auth/v1/invite) with the
// service role key. The key is only ever placed in those two headers.
type authInviter struct {
	auth gotrue.Client
}

// newInviter returns nil unless both SUPABASE_URL and
// SUPABASE_SERVICE_ROLE_KEY are set: then an unknown email is simply 404.
func newInviter(supabaseURL, serviceRoleKey string) inviter {
	if supabaseURL == "" || serviceRoleKey == "" {
		return nil
	}
	c, err := supabase.NewClient(supabaseURL, serviceRoleKey, nil)
	if err != nil { // only for an empty URL or key, excluded above
		return nil
	}
	// supabase-go sends the key as apikey; the admin API also wants it as the bearer token.
	return &authInviter{auth: c.Auth.WithToken(serviceRoleKey)}
}

func (a *authInviter) Invite(ctx context.Context, email string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, inviteTimeout)
	defer cancel()
	// gotrue-go builds its requests without a context and folds an error
	// answer into a string without its headers; the transport binds our
	// context (the deadline and the caller going away end the call) and keeps
	// what Auth answered, so the caller can be told why.
	tr := &contextTransport{ctx: ctx, base: http.DefaultTransport}
	hc := http.Client{
		Timeout:       inviteTimeout,
		Transport:     tr,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	res, err := a.auth.WithClient(hc).Invite(types.InviteRequest{Email: email})
	if err != nil {
		if ctx.Err() != nil {
			return "", fmt.Errorf("invite: %w", ctx.Err())
		}
		if tr.refusal != nil {
			return "", tr.refusal
		}
		return "", fmt.Errorf("invite: %w", err)
	}
	if res.ID == uuid.Nil {
		return "", errors.New("invite: Supabase Auth answered without a user id")
	}
	return res.ID.String(), nil
}

type contextTransport struct {
	ctx     context.Context
	base    http.RoundTripper
	refusal *authRefusal // set when Auth answered outside 2xx
}

func (t *contextTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	res, err := t.base.RoundTrip(r.WithContext(t.ctx))
	if err != nil || (res.StatusCode >= 200 && res.StatusCode < 300) {
		return res, err
	}
	body, _ := io.ReadAll(io.LimitReader(res.Body, 16<<10))
	res.Body.Close()
	t.refusal = parseRefusal(res.StatusCode, res.Header.Get("Retry-After"), body)
	res.Body = io.NopCloser(bytes.NewReader(body))
	return res, nil
}

// authRefusal is an error answer of Supabase Auth. Its JSON is
// {"code": 422, "error_code": "email_exists", "msg": "..."} (supabase/auth
// internal/api/apierrors; older servers send "error"/"error_description" or
// "message"); its codes are listed in internal/api/apierrors/errorcode.go.
type authRefusal struct {
	Status     int
	Code       string // error_code, e.g. email_exists, over_email_send_rate_limit
	Msg        string
	RetryAfter time.Duration // from Retry-After, when a proxy in front of Auth sent one
}

func (e *authRefusal) Error() string {
	return fmt.Sprintf("invite: Supabase Auth answered %d %s: %s", e.Status, e.Code, e.Msg)
}

func parseRefusal(status int, retryAfter string, body []byte) *authRefusal {
	var b struct {
		ErrorCode        string `json:"error_code"`
		Msg              string `json:"msg"`
		Message          string `json:"message"`
		Error            string `json:"error"`
		ErrorDescription string `json:"error_description"`
	}
	_ = json.Unmarshal(body, &b)
	e := &authRefusal{Status: status, Code: b.ErrorCode}
	for _, m := range []string{b.Msg, b.Message, b.ErrorDescription, b.Error} {
		if m = strings.TrimSpace(m); m != "" {
			e.Msg = m
			break
		}
	}
	if r := []rune(e.Msg); len(r) > 200 {
		e.Msg = string(r[:200]) + "…"
	}
	if secs, err := strconv.Atoi(strings.TrimSpace(retryAfter)); err == nil && secs > 0 {
		e.RetryAfter = time.Duration(secs) * time.Second
	} else if t, err := http.ParseTime(retryAfter); err == nil && time.Until(t) > 0 {
		e.RetryAfter = time.Until(t)
	}
	return e
}

// emailExists reports whether Auth refused because the address already has
// a (confirmed) account: internal/api/invite.go answers 422 email_exists
// with DuplicateEmailMsg; servers older than error codes send only the message.
func emailExists(err error) bool {
	var r *authRefusal
	return errors.As(err, &r) && r.Status == http.StatusUnprocessableEntity &&
		(r.Code == "email_exists" || r.Code == "user_already_exists" ||
			(r.Code == "" && strings.Contains(r.Msg, "already been registered")))
}
