package tenants

import (
	"context"
	"errors"
	"net"
	"net/http"

	"github.com/pvetenant/backend/shared/apperr"
)

// The function's own refusals, each coined once. The database's refusals
// are the store's (store/errors.go); the role table's are access's.

// A request that does not pass its Parse (api.go): 400 invalid_request with
// a sentence naming the field.
var (
	errNameRequired   = bad("name is required.")
	errNameEmpty      = bad("name must not be empty.")
	errSlugForm       = bad("slug may hold only lowercase letters, digits and single hyphens between them (e.g. acme-corp).")
	errNothingToWrite = bad("Nothing to update: give name, slug or description.")
	errIDAndEmail     = bad("Give userId or email, not both.")
	errIDOrEmail      = bad("userId or email is required.")
	errEmailForm      = bad("email must be an email address such as name@example.com.")
	errQueryTooShort  = bad("query must be at least 3 characters long.")
)

func bad(msg string) error { return apperr.New(apperr.Invalid, msg) }

// errNoAccount answers an address no account has when invitations are not
// configured.
var errNoAccount = apperr.New(apperr.NotFound, "No account uses that email address. Ask the person to sign up first, then add them.").WithCode("user_not_found")

// inviteError is what the caller sees of a failed invitation, one code per
// cause:
//   - Auth did not answer in time: 504 invite_timeout;
//   - Auth's email rate limit (429 over_email_send_rate_limit; the built-in
//     mailer sends only a few emails an hour): 429 invite_rate_limited, with
//     Retry-After when Auth gave one;
//   - Auth refused the key (401/403): the deployment's service role key is
//     wrong, nothing the caller can fix: 502 invite_not_authorized;
//   - any other 4xx (an address Auth will not take, signups disabled...):
//     400 invite_refused with Auth's reason;
//   - Auth down or answering 5xx: 502 invite_failed.
func inviteError(err error) error {
	var ne net.Error
	if errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()) {
		return apperr.Wrap(apperr.GatewayTimeout, err,
			"Supabase Auth did not answer in time, so the invitation may not have been sent. Try again.").WithCode("invite_timeout")
	}
	var r *authRefusal
	if errors.As(err, &r) {
		switch {
		case r.Status == http.StatusTooManyRequests:
			return apperr.Wrap(apperr.TooManyRequests, err,
				"Supabase Auth's email rate limit was reached, so no invitation was sent. "+
					"Wait a while and try again, or configure a custom SMTP server for the project, which raises the limit.").
				WithCode("invite_rate_limited").WithRetryAfter(r.RetryAfter)
		case r.Status == http.StatusUnauthorized || r.Status == http.StatusForbidden:
			return apperr.Wrap(apperr.BadGateway, err,
				"The invitation could not be sent: Supabase Auth refused this service's key. Ask the operator to check SUPABASE_SERVICE_ROLE_KEY.").
				WithCode("invite_not_authorized")
		case r.Status >= 400 && r.Status < 500:
			reason := r.Msg
			if reason == "" {
				reason = http.StatusText(r.Status)
			}
			return apperr.Wrap(apperr.Invalid, err,
				"Supabase Auth refused to invite this address: "+reason).WithCode("invite_refused")
		}
	}
	return apperr.Wrap(apperr.BadGateway, err,
		"The invitation could not be sent: Supabase Auth is unavailable. Try again later.").WithCode("invite_failed")
}
