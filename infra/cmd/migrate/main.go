// Command migrate applies pending sql/migrations (embedded in the binary) to
// a Supabase database over a direct connection, each file in one
// transaction, recorded in supabase_migrations.schema_migrations as the
// Supabase CLI records them.
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
	"os"
	"os/signal"
	"time"

	"github.com/pvetenant/backend/infra/migrate"
)

func main() {
	dry := flag.Bool("dry-run", false, "list the pending files and change nothing")
	url := flag.String("db-url", os.Getenv("MIGRATION_DATABASE_URL"), "direct connection URL (default $MIGRATION_DATABASE_URL)")
	flag.Parse()
	if *url == "" {
		fmt.Fprintln(os.Stderr, "migrate: give the project's direct connection URL with --db-url or MIGRATION_DATABASE_URL.")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()
	files, err := migrate.Run(ctx, *url, migrate.Options{DryRun: *dry, Out: os.Stdout})
	if err != nil {
		fmt.Fprintf(os.Stderr, "migrate: %v\n", err)
		os.Exit(1)
	}
	switch {
	case *dry && len(files) == 0, !*dry && len(files) == 0:
		fmt.Println("the database is up to date")
	case *dry:
		fmt.Printf("%d pending; run again without --dry-run to apply\n", len(files))
	}
}
