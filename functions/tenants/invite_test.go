package tenants_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pvetenant/backend/functions/tenants"
	"github.com/pvetenant/backend/infra/functest"
	"github.com/pvetenant/backend/infra/testdb"
)

// received is one request the Auth stand-in got.
type received struct {
	Method, Path, Authorization, APIKey, ContentType string
	Body                                             map[string]any
}

// authStandIn plays Supabase Auth's admin endpoint POST /auth/v1/invite on
// 127.0.0.1: like GoTrue on the same database, it inserts the auth.users row
// (the profile trigger makes the profile) and answers the user as JSON.
type authStandIn struct {
	*httptest.Server
	db *testdb.DB

	mu     sync.Mutex
	got    []received
	status int  // answer this error status instead
	hang   bool // never answer
	// With status set: the body (default: 422 email_exists), a Retry-After
	// header, and whether the address gets an account first (someone signed
	// up meanwhile: what makes real Auth answer email_exists).
	body       string
	retryAfter string
	create     bool
}

func newAuthStandIn(t *testing.T, db *testdb.DB) *authStandIn {
	s := &authStandIn{db: db}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.Close)
	return s
}

func (s *authStandIn) serve(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	rec := received{Method: r.Method, Path: r.URL.Path, Authorization: r.Header.Get("Authorization"),
		APIKey: r.Header.Get("apikey"), ContentType: r.Header.Get("Content-Type")}
	_ = json.Unmarshal(b, &rec.Body)
	s.mu.Lock()
	s.got = append(s.got, rec)
	status, hang, body, retryAfter, create := s.status, s.hang, s.body, s.retryAfter, s.create
	s.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	email, _ := rec.Body["email"].(string)
	switch {
	case hang:
		<-r.Context().Done()
		return
	case status != 0:
		if create {
			_, _ = s.db.Pool.Exec(r.Context(), `insert into auth.users (email, email_confirmed_at) values (lower($1), now())`, email)
		}
		if body == "" {
			body = `{"code":422,"error_code":"email_exists","msg":"A user with this email address has already been registered"}`
		}
		if retryAfter != "" {
			w.Header().Set("Retry-After", retryAfter)
		}
		w.WriteHeader(status)
		_, _ = w.Write([]byte(body))
		return
	}
	var id string
	var created time.Time
	if err := s.db.Pool.QueryRow(r.Context(), `insert into auth.users (email) values (lower($1)) returning id::text, created_at`, email).Scan(&id, &created); err != nil {
		w.WriteHeader(500)
		_, _ = w.Write([]byte(`{"code":500,"msg":"` + err.Error() + `"}`))
		return
	}
	now := time.Now().UTC().Format(time.RFC3339Nano)
	_ = json.NewEncoder(w).Encode(map[string]any{
		"id": id, "aud": "authenticated", "role": "authenticated", "email": strings.ToLower(email),
		"phone": "", "invited_at": now, "confirmation_sent_at": now,
		"app_metadata":  map[string]any{"provider": "email", "providers": []string{"email"}},
		"user_metadata": map[string]any{}, "identities": []any{},
		"created_at": created.UTC().Format(time.RFC3339Nano), "updated_at": now, "is_anonymous": false,
	})
}

func (s *authStandIn) set(status int, hang bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.status, s.hang = status, hang
}

// refuse makes every invitation answer status with body (and Retry-After);
// create gives the address an account first.
func (s *authStandIn) refuse(status int, body, retryAfter string, create bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.status, s.body, s.retryAfter, s.create = status, body, retryAfter, create
}

func (s *authStandIn) requests() []received {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]received(nil), s.got...)
}

func serviceKey(t *testing.T) string {
	b := make([]byte, 24)
	_, _ = rand.Read(b)
	return "service-role-" + hex.EncodeToString(b)
}

// inviteEnv is a world whose SUPABASE_URL points at the stand-in.
func inviteEnv(t *testing.T, key string, configure func(*functest.Config)) (*functest.Env, *authStandIn) {
	e := functest.New(t, functest.Options{Needs: tenants.Needs, Configure: func(c *functest.Config) {
		c.ServiceRoleKey = key
		if configure != nil {
			configure(c)
		}
	}}, tenants.New)
	auth := newAuthStandIn(t, e.DB)
	// The handler was built before the stand-in existed: build it again now.
	e.Deps.Config.SupabaseURL = auth.URL
	e.Handler = tenants.New(e.Deps)
	return e, auth
}

func TestInviteUnknownEmail(t *testing.T) {
	key := serviceKey(t)
	e, auth := inviteEnv(t, key, nil)
	const email = "newcomer@example.org"
	res := functest.Expect(t, call(e, functest.AdminA, "assign-user", obj{"tenantId": functest.TenantA, "email": email, "role": "manager"}), 201)

	got := auth.requests()
	if len(got) != 1 {
		t.Fatalf("%d requests to Auth, want 1: %+v", len(got), got)
	}
	r := got[0]
	if r.Method != http.MethodPost || r.Path != "/auth/v1/invite" || r.Authorization != "Bearer "+key || r.APIKey != key ||
		!strings.HasPrefix(r.ContentType, "application/json") || r.Body["email"] != email {
		t.Fatalf("request to Auth: %+v", r)
	}
	a := field(t, res, "assignment")
	var id string
	if err := e.DB.Pool.QueryRow(context.Background(), `select id::text from auth.users where email = $1`, email).Scan(&id); err != nil {
		t.Fatal(err)
	}
	if res.Body["invited"] != true || a["user_id"] != id || a["role"] != "manager" || a["tenant_id"] != functest.TenantA ||
		a["profile"].(map[string]any)["email"] != email {
		t.Fatalf("answer: %s", res.Raw)
	}
	if n := count(t, e, `select count(*) from public.audit_log where action = 'member.added' and target_id = $1 and actor_id = $2`, id, functest.AdminA); n != 1 {
		t.Fatalf("%d audit rows for the invited member", n)
	}
	// Asked again, the person now exists: a member already, and no second invitation.
	if res := functest.Expect(t, call(e, functest.AdminA, "assign-user", obj{"tenantId": functest.TenantA, "email": email, "role": "viewer"}), 409); res.Code() != "already_member" {
		t.Fatal(res.Raw)
	}
	// An existing account is assigned without an invitation.
	res = functest.Expect(t, call(e, functest.AdminA, "assign-user", obj{"tenantId": functest.TenantA, "email": "nobody@example.com", "role": "viewer"}), 201)
	if res.Body["invited"] != false || len(auth.requests()) != 1 {
		t.Fatalf("existing account: %s, %d requests", res.Raw, len(auth.requests()))
	}
	// Managers may not invite.
	functest.Expect(t, call(e, functest.ManagerA, "assign-user", obj{"tenantId": functest.TenantA, "email": "other@example.org", "role": "viewer"}), 403)
	if len(auth.requests()) != 1 {
		t.Fatal("a refused request reached Auth")
	}
	if strings.Contains(e.Logs.String(), key) {
		t.Fatal("the service role key reached the log")
	}
}

func TestInviteFailures(t *testing.T) {
	key := serviceKey(t)
	t.Run("Auth fails", func(t *testing.T) {
		e, auth := inviteEnv(t, key, nil)
		auth.refuse(http.StatusInternalServerError, `{"code":500,"msg":"Database error saving new user"}`, "", false)
		res := functest.Expect(t, call(e, functest.AdminA, "assign-user", obj{"tenantId": functest.TenantA, "email": "new@example.org", "role": "viewer"}), 502)
		if res.Code() != "invite_failed" || strings.Contains(res.Raw, "Database error") || strings.Contains(res.Raw, key) {
			t.Fatal(res.Raw)
		}
		if n := count(t, e, `select count(*) from public.user_tenant_assignments where tenant_id = $1`, functest.TenantA); n != 3 {
			t.Fatalf("%d members after a failed invitation", n)
		}
		if strings.Contains(e.Logs.String(), key) {
			t.Fatal("the service role key reached the log")
		}
	})
	t.Run("Auth does not answer", func(t *testing.T) {
		e, auth := inviteEnv(t, key, func(c *functest.Config) { c.RequestTimeout = time.Second })
		auth.set(0, true)
		start := time.Now()
		res := functest.Expect(t, call(e, functest.AdminA, "assign-user", obj{"tenantId": functest.TenantA, "email": "new@example.org", "role": "viewer"}), 504)
		if res.Code() != "invite_timeout" || time.Since(start) > 5*time.Second {
			t.Fatalf("%s after %s", res.Raw, time.Since(start))
		}
	})
	t.Run("no service role key: 404, Auth never asked", func(t *testing.T) {
		e, auth := inviteEnv(t, "", nil)
		res := functest.Expect(t, call(e, functest.AdminA, "assign-user", obj{"tenantId": functest.TenantA, "email": "new@example.org", "role": "viewer"}), 404)
		if res.Code() != "user_not_found" || len(auth.requests()) != 0 {
			t.Fatal(res.Raw)
		}
	})
}
