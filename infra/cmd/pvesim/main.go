// Command pvesim runs the Proxmox VE API simulator for a local demo stack.
//
//	pvesim -addr 127.0.0.1:8006 -topology cluster3 \
//	       -token 'root@pam!demo=11111111-2222-3333-4444-555555555555' \
//	       -user 'admin@pve:secret'
//
// -topology is a JSON file (see pvesim.Config) or a preset name. It prints
// the URL, credentials and certificate fingerprint, then serves until
// SIGINT/SIGTERM.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/pvetenant/backend/infra/pvesim"
)

// multiFlag collects a repeatable string flag.
type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "pvesim:", err)
		os.Exit(1)
	}
}

// run serves until ctx is done (main cancels it on SIGINT/SIGTERM).
func run(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("pvesim", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:8006", "listen address (loopback only)")
	topo := fs.String("topology", "cluster3", "topology JSON file or preset name ("+strings.Join(pvesim.PresetNames(), ", ")+")")
	version := fs.String("pve-version", "", "override the PVE version (7, 8, 9 or e.g. 8.2.4)")
	taskDur := fs.Duration("task-duration", 0, "how long tasks report running")
	certOut := fs.String("cert-out", "", "write the certificate PEM to this file")
	var tokens, users multiFlag
	fs.Var(&tokens, "token", "API token user@realm!id=secret (repeatable; replaces a same-named preset token)")
	fs.Var(&users, "user", "password login user@realm:password (repeatable)")
	if err := fs.Parse(args); err != nil {
		return err
	}

	cfg, err := loadTopology(*topo)
	if err != nil {
		return err
	}
	cfg.Addr = *addr
	if *version != "" {
		cfg.Version = *version
	}
	cfg.TaskDuration = *taskDur
	for _, t := range tokens {
		id, secret, ok := strings.Cut(t, "=")
		if !ok || secret == "" {
			return fmt.Errorf("-token %q: want user@realm!id=secret", t)
		}
		cfg.Tokens = upsertToken(cfg.Tokens, pvesim.Token{ID: id, Secret: secret})
	}
	for _, u := range users {
		id, pw, ok := strings.Cut(u, ":")
		if !ok || pw == "" {
			return fmt.Errorf("-user %q: want user@realm:password", u)
		}
		cfg.Users = upsertUser(cfg.Users, pvesim.User{ID: id, Password: pw})
	}

	sim, err := pvesim.New(cfg)
	if err != nil {
		return err
	}
	if err := sim.Start(); err != nil {
		return err
	}
	defer sim.Close()
	if *certOut != "" {
		if err := os.WriteFile(*certOut, sim.CertPEM(), 0o644); err != nil {
			return err
		}
	}

	fmt.Fprintf(out, "pvesim (PVE %s) listening on %s\n", sim.Version(), sim.URL())
	fmt.Fprintf(out, "  api:         %s\n", sim.APIURL())
	for _, t := range cfg.Tokens {
		fmt.Fprintf(out, "  token:       %s=%s", t.ID, t.Secret)
		if t.ReadOnly {
			fmt.Fprint(out, " (read-only)")
		}
		fmt.Fprintln(out)
	}
	for _, u := range cfg.Users {
		fmt.Fprintf(out, "  user:        %s password %s\n", u.ID, u.Password)
	}
	fmt.Fprintf(out, "  fingerprint: %s\n", sim.Fingerprint())

	<-ctx.Done()
	fmt.Fprintln(out, "pvesim: shutting down")
	return nil
}

// loadTopology reads a JSON file if one exists at arg, else a preset.
func loadTopology(arg string) (pvesim.Config, error) {
	data, err := os.ReadFile(arg)
	if err == nil {
		return pvesim.ParseConfig(data)
	}
	if !errors.Is(err, os.ErrNotExist) {
		return pvesim.Config{}, err
	}
	cfg, perr := pvesim.Preset(arg)
	if perr != nil {
		return pvesim.Config{}, fmt.Errorf("%q is neither a readable file nor a preset: %w", arg, perr)
	}
	return cfg, nil
}

func upsertToken(list []pvesim.Token, t pvesim.Token) []pvesim.Token {
	for i := range list {
		if list[i].ID == t.ID {
			list[i] = t
			return list
		}
	}
	return append(list, t)
}

func upsertUser(list []pvesim.User, u pvesim.User) []pvesim.User {
	for i := range list {
		if list[i].ID == u.ID {
			list[i] = u
			return list
		}
	}
	return append(list, u)
}
