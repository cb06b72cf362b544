// Command migrate applies pending sql/migrations (embedded in the binary) to
// a Supabase database over a direct connection, each file in one
// transaction, recorded in supabase_migrations.schema_migrations as the
// Supabase CLI records them (infra/migrate).
//
//	go run ./infra/cmd/migrate [--dry-run] [--db-url URL]
//
// The URL comes from --db-url or MIGRATION_DATABASE_URL (kept apart from the
// functions' DATABASE_URL, which is the transaction pooler).
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"time"

	"github.com/pvetenant/backend/infra/migrate"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	code := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("migrate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dry := fs.Bool("dry-run", false, "list the pending files and change nothing")
	url := fs.String("db-url", getenv("MIGRATION_DATABASE_URL"), "direct connection URL (default $MIGRATION_DATABASE_URL)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *url == "" {
		fmt.Fprintln(stderr, "migrate: give the project's direct connection URL with --db-url or MIGRATION_DATABASE_URL.")
		return 2
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()
	files, err := migrate.Run(ctx, *url, migrate.Options{DryRun: *dry, Out: stdout})
	if err != nil {
		fmt.Fprintf(stderr, "migrate: %v.\n", err)
		return 1
	}
	switch {
	case len(files) == 0:
		fmt.Fprintln(stdout, "the database is up to date")
	case *dry:
		fmt.Fprintf(stdout, "%d pending; run again without --dry-run to apply them\n", len(files))
	}
	return 0
}
