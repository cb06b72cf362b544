// Package setup turns the environment into what a function needs: the
// token verifier, the database pool, the credentials keyring and the Proxmox
// client options. The same variable names configure Lambda and the local server.
package setup

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/pvetenant/backend/shared/auth"
	"github.com/pvetenant/backend/shared/db"
	"github.com/pvetenant/backend/shared/fanout"
	"github.com/pvetenant/backend/shared/httpapi"
	"github.com/pvetenant/backend/shared/metrics"
	"github.com/pvetenant/backend/shared/netguard"
	"github.com/pvetenant/backend/shared/proxmox"
	"github.com/pvetenant/backend/shared/ratelimit"
	"github.com/pvetenant/backend/shared/secrets"
)

// Config is every setting, read from the environment and parsed once, by
// FromEnv (and LoadWithSecrets for what a Secrets Manager secret holds):
// Load only builds from these values. Build it with FromEnv: its zero value
// is no configuration (every rate limit off, no timeouts checked).
type Config struct {
	DatabaseURL    string           // DATABASE_URL
	JWTSecret      string           // SUPABASE_JWT_SECRET (HS256)
	SupabaseURL    string           // SUPABASE_URL (JWKS for ES256/RS256; Auth admin API for invites)
	ServiceRoleKey string           // SUPABASE_SERVICE_ROLE_KEY (invites only)
	CredentialsKey string           // CREDENTIALS_KEY as given (base64 of 32 bytes), for the secrets sweep; Keyring is what is used
	Keyring        *secrets.Keyring // CREDENTIALS_KEY, with CREDENTIALS_PREVIOUS_KEYS (comma-separated, still opened during rotation); nil when CREDENTIALS_KEY is unset
	AllowedOrigins []string         // ALLOWED_ORIGINS, comma-separated; default *
	ProxmoxTimeout time.Duration    // PROXMOX_TIMEOUT per server; default 6s (room for pveproxy's 3 s 401 delay)
	TaskFollow     time.Duration    // TASK_FOLLOW: how long list-vms follows a power action's task; default 2s, 0 off
	// PROXMOX_ALLOW_CIDRS: targets exempt from the address guard.
	ProxmoxAllowCIDRs []netip.Prefix
	// PROXMOX_DENY_CIDRS: targets always refused (wins over everything).
	ProxmoxDenyCIDRs []netip.Prefix
	// PROXMOX_ALLOWED_PORTS: e.g. "8006,443, 8000-8010"; empty means any.
	ProxmoxAllowedPorts []uint16
	// RATE_LIMITS: overrides of ratelimit.Defaults, e.g. "probe_per_user=10/1m".
	RateLimits     ratelimit.Limits
	StatsCacheTTL  time.Duration // STATS_CACHE_TTL; default 5s, 0 disables
	RequestTimeout time.Duration // REQUEST_TIMEOUT for a whole request; default 25s
	LogLevel       slog.Level    // LOG_LEVEL: debug, info, warn, error
	SecretsARN     string        // SECRETS_ARN: the secrets above come from this Secrets Manager secret (secrets.go)

	// CREDENTIALS_PREVIOUS_KEYS as given: a secret that brings only
	// CREDENTIALS_KEY is parsed with the variable's previous keys.
	credentialsPrevious string
}

// Needs says which settings a function cannot start without.
type Needs struct {
	Database                 bool
	Credentials              bool // CREDENTIALS_KEY (and CREDENTIALS_PREVIOUS_KEYS)
	MayReceiveServiceRoleKey bool // SUPABASE_SERVICE_ROLE_KEY: only a function that invites users gets it
}

// FromEnv reads and parses every setting; getenv is os.Getenv outside tests.
// Every malformed value is reported, each naming its variable, in one error.
// Whether a setting is required depends on the function (Needs) and on the
// secret SECRETS_ARN names: Load says what is missing.
func FromEnv(getenv func(string) string) (Config, error) {
	c := Config{
		DatabaseURL:    getenv("DATABASE_URL"),
		JWTSecret:      getenv("SUPABASE_JWT_SECRET"),
		SupabaseURL:    strings.TrimRight(getenv("SUPABASE_URL"), "/"),
		ServiceRoleKey: getenv("SUPABASE_SERVICE_ROLE_KEY"),
		SecretsARN:     strings.TrimSpace(getenv("SECRETS_ARN")),
		ProxmoxTimeout: proxmox.DefaultTimeout,
		StatsCacheTTL:  5 * time.Second,
		TaskFollow:     2 * time.Second,
		RequestTimeout: httpapi.DefaultTimeout,
		AllowedOrigins: []string{"*"},
	}
	var errs []error
	// parse reads one variable through its parser; the error names the variable.
	parse := func(name string, f func(v string) error) {
		if err := f(getenv(name)); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", name, err))
		}
	}
	if err := c.setCredentials(getenv("CREDENTIALS_KEY"), getenv("CREDENTIALS_PREVIOUS_KEYS")); err != nil {
		errs = append(errs, err)
	}
	parse("PROXMOX_ALLOW_CIDRS", func(v string) (err error) { c.ProxmoxAllowCIDRs, err = netguard.ParseCIDRs(v); return })
	parse("PROXMOX_DENY_CIDRS", func(v string) (err error) { c.ProxmoxDenyCIDRs, err = netguard.ParseCIDRs(v); return })
	parse("PROXMOX_ALLOWED_PORTS", func(v string) (err error) { c.ProxmoxAllowedPorts, err = netguard.ParsePorts(v); return })
	parse("RATE_LIMITS", func(v string) (err error) { c.RateLimits, err = ratelimit.Parse(v); return })
	if v := getenv("ALLOWED_ORIGINS"); strings.TrimSpace(v) != "" {
		c.AllowedOrigins = nil
		for _, o := range strings.Split(v, ",") {
			if o = strings.TrimSpace(o); o != "" {
				c.AllowedOrigins = append(c.AllowedOrigins, o)
			}
		}
	}
	duration := func(name string, dst *time.Duration, allowZero bool) {
		v := strings.TrimSpace(getenv(name))
		if v == "" {
			return
		}
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 || (d == 0 && !allowZero) {
			errs = append(errs, fmt.Errorf("%s must be a positive duration such as 4s (got %q)", name, v))
			return
		}
		*dst = d
	}
	duration("PROXMOX_TIMEOUT", &c.ProxmoxTimeout, false)
	duration("STATS_CACHE_TTL", &c.StatsCacheTTL, true)
	duration("TASK_FOLLOW", &c.TaskFollow, true)
	duration("REQUEST_TIMEOUT", &c.RequestTimeout, false)
	if v := getenv("LOG_LEVEL"); v != "" {
		if err := c.LogLevel.UnmarshalText([]byte(v)); err != nil {
			errs = append(errs, fmt.Errorf("LOG_LEVEL must be debug, info, warn or error"))
		}
	}
	if c.ProxmoxTimeout >= c.RequestTimeout {
		errs = append(errs, fmt.Errorf("PROXMOX_TIMEOUT (%s) must be shorter than REQUEST_TIMEOUT (%s)", c.ProxmoxTimeout, c.RequestTimeout))
	}
	return c, errors.Join(errs...)
}

// setCredentials parses the credentials keys, from the environment or the
// secret. Previous keys alone open nothing: without CREDENTIALS_KEY the
// keyring stays nil (Load requires it where a function needs it).
func (c *Config) setCredentials(key, previous string) error {
	c.CredentialsKey, c.credentialsPrevious, c.Keyring = key, previous, nil
	if key == "" {
		return nil
	}
	// The current key alone first, so an error names the variable at fault.
	ring, err := secrets.ParseKeyring(key, "")
	if err != nil {
		return fmt.Errorf("CREDENTIALS_KEY: %w", err)
	}
	if strings.TrimSpace(previous) != "" {
		if ring, err = secrets.ParseKeyring(key, previous); err != nil {
			return fmt.Errorf("CREDENTIALS_PREVIOUS_KEYS: %w", err)
		}
	}
	c.Keyring = ring
	return nil
}

// Deps is what the functions are built from.
type Deps struct {
	Config  Config
	Logger  *slog.Logger
	Server  *httpapi.Server
	Pool    *pgxpool.Pool
	Keyring *secrets.Keyring // nil when CREDENTIALS_KEY is unset and not needed
	Proxmox proxmox.Options
	Clients *fanout.Clients // Proxmox clients reused across requests of a warm process
	Limits  ratelimit.Limits
}

// Load builds Deps from c as FromEnv parsed it, and says which settings need
// requires that c lacks. The pool connects lazily: a function whose database
// is down still starts and answers 503 until it is back.
func Load(ctx context.Context, c Config, need Needs, logger *slog.Logger) (*Deps, error) {
	if logger == nil {
		logger = NewLogger(os.Stderr, c.LogLevel)
	}
	var errs []error
	verifier, err := auth.NewVerifier(auth.Config{JWTSecret: []byte(c.JWTSecret), SupabaseURL: c.SupabaseURL})
	if err != nil {
		errs = append(errs, fmt.Errorf("SUPABASE_JWT_SECRET or SUPABASE_URL: %w", err))
	}
	if need.Credentials && c.Keyring == nil {
		errs = append(errs, errors.New("CREDENTIALS_KEY is required"))
	}
	d := &Deps{Config: c, Logger: logger, Keyring: c.Keyring, Limits: c.RateLimits}
	if need.Database {
		if c.DatabaseURL == "" {
			errs = append(errs, errors.New("DATABASE_URL is required"))
		} else if d.Pool, err = db.Open(ctx, c.DatabaseURL); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		if d.Pool != nil {
			d.Pool.Close()
		}
		return nil, err
	}
	guard := netguard.NewWith(netguard.Options{Allow: c.ProxmoxAllowCIDRs, Deny: c.ProxmoxDenyCIDRs, Ports: c.ProxmoxAllowedPorts})
	d.Proxmox = proxmox.Options{Timeout: c.ProxmoxTimeout, Guard: guard, Logger: logger}
	d.Clients = fanout.NewClients(256)
	d.Server = &httpapi.Server{Verifier: verifier, Logger: logger, AllowedOrigins: c.AllowedOrigins, Timeout: c.RequestTimeout}
	return d, nil
}

// NewLogger returns the JSON logger every function uses.
func NewLogger(w *os.File, level slog.Level) *slog.Logger {
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: level}))
}

// Close releases the pool and the Proxmox connections.
func (d *Deps) Close() {
	if d.Pool != nil {
		d.Pool.Close()
	}
	d.Clients.Close()
}

// MustLoad is what a Lambda main calls: configuration from the environment
// (and the secret SECRETS_ARN names), or a log line naming what is missing
// and exit 1 (Lambda reports an init error). Metrics go to stdout (EMF).
func MustLoad(need Needs) *Deps {
	c, err := FromEnv(os.Getenv)
	logger := NewLogger(os.Stderr, c.LogLevel)
	metrics.SetOutput(os.Stdout)
	if err == nil {
		var d *Deps
		if d, err = LoadWithSecrets(context.Background(), c, need, os.Getenv, logger); err == nil {
			return d
		}
	}
	logger.Error("configuration", "error", err.Error())
	os.Exit(1)
	return nil
}
