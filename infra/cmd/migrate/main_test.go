package main

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"

	"github.com/pvetenant/backend/infra/testdb"
	"github.com/pvetenant/backend/sql/migrations"
)

func TestMain(m *testing.M) { os.Exit(testdb.Run(m)) }

func cmd(args []string, env map[string]string) (int, string, string) {
	var out, errb bytes.Buffer
	code := run(context.Background(), args, func(k string) string { return env[k] }, &out, &errb)
	return code, out.String(), errb.String()
}

func TestCommand(t *testing.T) {
	db := testdb.Empty(t)
	all := migrations.All()

	code, out, _ := cmd([]string{"--dry-run"}, map[string]string{"MIGRATION_DATABASE_URL": db.URL})
	if code != 0 || strings.Count(out, "pending migration ") != len(all) || !strings.Contains(out, "pending migration "+all[0].Name+"\n") {
		t.Fatalf("dry run: %d\n%s", code, out)
	}
	code, out, _ = cmd([]string{"--db-url", db.URL}, nil)
	if code != 0 || strings.Count(out, "applied migration ") != len(all) {
		t.Fatalf("apply: %d\n%s", code, out)
	}
	code, out, _ = cmd([]string{"--dry-run", "--db-url", db.URL}, nil)
	if code != 0 || out != "the database is up to date\n" {
		t.Fatalf("dry run after: %d %q", code, out)
	}

	code, _, errOut := cmd([]string{"--db-url", "postgres://postgres.ref:pw@aws-0-eu-west-1.pooler.supabase.com:6543/postgres"}, nil)
	if code != 1 || !strings.Contains(errOut, "transaction pooler (port 6543)") || strings.Contains(errOut, ":pw@") {
		t.Fatalf("pooler URL: %d %q", code, errOut)
	}
	if code, _, errOut := cmd(nil, nil); code != 2 || !strings.Contains(errOut, "direct connection URL") {
		t.Fatalf("no URL: %d %q", code, errOut)
	}
}
