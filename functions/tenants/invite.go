package tenants

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/google/uuid"
	"github.com/supabase-community/gotrue-go"
	"github.com/supabase-community/gotrue-go/types"
	supabase "github.com/supabase-community/supabase-go"

	"github.com/pvetenant/backend/shared/apperr"
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
	// gotrue-go builds its requests without a context; the transport binds
	// ours, so the deadline (and the caller going away) ends the call.
	hc := http.Client{
		Timeout:       inviteTimeout,
		Transport:     contextTransport{ctx: ctx, base: http.DefaultTransport},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	res, err := a.auth.WithClient(hc).Invite(types.InviteRequest{Email: email})
	if err != nil {
		if ctx.Err() != nil {
			return "", fmt.Errorf("invite: %w", ctx.Err())
		}
		return "", fmt.Errorf("invite: %w", err)
	}
	if res.ID == uuid.Nil {
		return "", errors.New("invite: Supabase Auth answered without a user id")
	}
	return res.ID.String(), nil
}

type contextTransport struct {
	ctx  context.Context
	base http.RoundTripper
}

func (t contextTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	return t.base.RoundTrip(r.WithContext(t.ctx))
}

// inviteError is what the caller sees of a failed invitation: 504 when Auth
// did not answer in time, 502 otherwise, never Auth's own words.
func inviteError(err error) error {
	var ne net.Error
	if errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()) {
		return apperr.Wrap(apperr.GatewayTimeout, err,
			"Supabase Auth did not answer in time, so the invitation may not have been sent. Try again.").WithCode("invite_timeout")
	}
	return apperr.Wrap(apperr.BadGateway, err,
		"The invitation could not be sent: Supabase Auth refused it. Check the address and try again later.").WithCode("invite_failed")
}
