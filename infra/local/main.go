// Command local serves every function at http://$ADDR/functions/v1/<name>
// (ADDR defaults to 127.0.0.1:54321), configured by the same environment
// variables as Lambda. With DATABASE_URL set it uses that database as it is;
// without it, it brings up the whole local stack (see package stack), in
// $STACK_DIR (default .local).
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strconv"
	"syscall"

	"github.com/pvetenant/backend/functions/catalog"

	"github.com/pvetenant/backend/infra/localserver"
	"github.com/pvetenant/backend/infra/stack"
	"github.com/pvetenant/backend/shared/setup"
)

func main() {
	if err := run(); err != nil {
		var busy *stack.PortBusyError
		var dirBusy *stack.DirBusyError
		if errors.As(err, &busy) || errors.As(err, &dirBusy) {
			// One readable line naming the variable to change.
			fmt.Fprintln(os.Stderr, "local stack: "+err.Error())
			os.Exit(1)
		}
		slog.Error("local server", "error", err.Error())
		os.Exit(1)
	}
}

func run() error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	addr := os.Getenv("ADDR")
	if addr == "" {
		addr = "127.0.0.1:54321"
	}
	cfg, err := setup.FromEnv(os.Getenv)
	if err != nil {
		return err
	}
	if cfg.DatabaseURL == "" {
		// No database given: bring up the whole embedded stack.
		// DB_PORT moves the stack's PostgreSQL off 54322 (e.g. when
		// `supabase start` holds it).
		var dbPort int
		if v := os.Getenv("DB_PORT"); v != "" {
			if dbPort, err = strconv.Atoi(v); err != nil || dbPort <= 0 || dbPort > 65535 {
				return fmt.Errorf("DB_PORT=%q is not a port number", v)
			}
		}
		err := stack.Run(ctx, stack.Options{Addr: addr, DBPort: dbPort, Dir: os.Getenv("STACK_DIR")})
		if err != nil && ctx.Err() != nil {
			// Stopped by SIGINT/SIGTERM while starting: what was started is
			// stopped again, which is what was asked.
			fmt.Fprintln(os.Stderr, "local stack: stopped while starting")
			return nil
		}
		return err
	}
	d, err := setup.Load(ctx, cfg, catalog.Merge(), nil)
	if err != nil {
		return err
	}
	defer d.Close()
	return localserver.Serve(ctx, addr, localserver.Handler(d), d.Logger)
}
