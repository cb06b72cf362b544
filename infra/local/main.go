// Command local serves every function at http://$ADDR/functions/v1/<name>
// (ADDR defaults to 127.0.0.1:54321), configured by the same environment
// variables as Lambda. With DATABASE_URL set it uses that database as it is;
// without it, it brings up the whole local stack (see package stack), in
// $STACK_DIR (default .local).
package main

import (
	"context"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/pvetenant/backend/infra/localserver"
	"github.com/pvetenant/backend/infra/stack"
	"github.com/pvetenant/backend/shared/runtime"
)

func main() {
	if err := run(); err != nil {
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
	cfg, err := runtime.FromEnv(os.Getenv)
	if err != nil {
		return err
	}
	if cfg.DatabaseURL == "" {
		// No database given: bring up the whole embedded stack.
		return stack.Run(ctx, stack.Options{Addr: addr, Dir: os.Getenv("STACK_DIR")})
	}
	d, err := runtime.Load(ctx, cfg, localserver.Merge(), nil)
	if err != nil {
		return err
	}
	defer d.Close()
	return localserver.Serve(ctx, addr, localserver.Handler(d), d.Logger)
}
