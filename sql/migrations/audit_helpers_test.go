package migrations_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/pvetenant/backend/infra/testdb"
)

// textAs runs a query as user and returns its first column as text ("<null>"
// for null), rolled back.
func textAs(t *testing.T, db *testdb.DB, user, sql string, args ...any) []string {
	t.Helper()
	ctx := context.Background()
	tx, err := db.Pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck
	cj, _ := json.Marshal(map[string]any{"sub": user, "role": "authenticated"})
	if _, err := tx.Exec(ctx, `select set_config('role', 'authenticated', true), set_config('request.jwt.claims', $1, true)`, string(cj)); err != nil {
		t.Fatal(err)
	}
	rows, err := tx.Query(ctx, sql, args...)
	if err != nil {
		t.Fatal(err)
	}
	vals, err := pgx.CollectRows(rows, pgx.RowTo[*string])
	if err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	out := make([]string, len(vals))
	for i, v := range vals {
		out[i] = "<null>"
		if v != nil {
			out[i] = *v
		}
	}
	return out
}

// The SECURITY DEFINER helpers behind assign-user and lookup-users check
// their caller themselves: calling them straight (they are reachable by any
// signed-in role) gives no more than the functions do.
func TestFindUserByEmail(t *testing.T) {
	db := testdb.Fresh(t)
	seed(t, db, false)
	const find = `select private.find_user_id_by_email($1, $2)`
	runCases(t, db, []rlsCase{
		{"anon", anon, find, []any{tenantA, "bob@globex.test"}, 0, "42501"},
		{"no role", nobody, find, []any{tenantA, "bob@globex.test"}, 0, "42501"},
		{"viewer", viewerA, find, []any{tenantA, "bob@globex.test"}, 0, "42501"},
		{"manager", managerA, find, []any{tenantA, "bob@globex.test"}, 0, "42501"},
		{"admin of B for A", adminB, find, []any{tenantA, "victor@acme.test"}, 0, "42501"},
		{"admin", adminA, find, []any{tenantA, "bob@globex.test"}, 1, ""},
		{"system admin", sysAdmin, find, []any{tenantB, "bob@globex.test"}, 1, ""},
	})
	for q, want := range map[string]string{
		"bob@globex.test": adminB, " BOB@Globex.Test ": adminB, "bob@globex": "<null>", "bob%": "<null>", "": "<null>",
	} {
		if got := textAs(t, db, adminA, find, tenantA, q); fmt.Sprint(got) != "["+want+"]" {
			t.Errorf("%q: %v, want %s", q, got, want)
		}
	}
}

func TestLookupUsersHelper(t *testing.T) {
	db := testdb.Fresh(t)
	seed(t, db, false)
	const look = `select email from private.lookup_users($1, $2)`
	runCases(t, db, []rlsCase{
		{"anon", anon, look, []any{tenantA, "vic"}, 0, "42501"},
		{"viewer", viewerA, look, []any{tenantA, "vic"}, 0, "42501"},
		{"manager", managerA, look, []any{tenantA, "vic"}, 0, "42501"},
		{"admin of B for A", adminB, look, []any{tenantA, "vic"}, 0, "42501"},
		{"too short", adminA, look, []any{tenantA, "vi"}, 0, "22023"},
		{"too short once trimmed", adminA, look, []any{tenantA, "  vi  "}, 0, "22023"},
	})
	cases := []struct {
		user, query string
		want        []string
	}{
		{adminA, "vic", []string{"victor@acme.test"}},
		{adminA, "VICTOR@", []string{"victor@acme.test"}},
		{adminA, "bob", nil},                                     // not a co-member: never by prefix
		{adminA, "bob@globex.tes", nil},                          // nor by a nearly whole address
		{adminA, "Bob@Globex.Test", []string{"bob@globex.test"}}, // by the exact address
		{adminA, "___", nil},
		{adminA, "%%%", nil},
		{adminA, `\\\`, nil},
		{adminB, "ver", []string{"vera@globex.test"}},
		{sysAdmin, "bob", []string{"bob@globex.test"}},
		{sysAdmin, "___", nil},
		{sysAdmin, "%ac%", nil},
		{sysAdmin, "a%e", nil},
	}
	for _, c := range cases {
		tenant := tenantA
		if c.user == adminB {
			tenant = tenantB
		}
		got := textAs(t, db, c.user, look, tenant, c.query)
		if fmt.Sprint(got) != fmt.Sprint(c.want) && !(len(got) == 0 && len(c.want) == 0) {
			t.Errorf("%s looks up %q: %v, want %v", c.user, c.query, got, c.want)
		}
	}
	// Both the prefix and the exact match can use the expression index.
	for _, q := range []string{`lower(email) like 'vic%'`, `lower(email) = 'victor@acme.test'`} {
		var plan []string
		err := pgx.BeginFunc(context.Background(), db.Pool, func(tx pgx.Tx) error {
			if _, err := tx.Exec(context.Background(), `set local enable_seqscan = off`); err != nil {
				return err
			}
			rows, err := tx.Query(context.Background(), `explain (costs off) select id from public.profiles where `+q)
			if err != nil {
				return err
			}
			plan, err = pgx.CollectRows(rows, pgx.RowTo[string])
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		if text := strings.Join(plan, "\n"); !strings.Contains(text, "idx_profiles_email_lower") {
			t.Errorf("%s does not use idx_profiles_email_lower:\n%s", q, text)
		}
	}
}
