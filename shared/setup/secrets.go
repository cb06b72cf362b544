package setup

import (
	"context"
	"log/slog"
	"strings"
	"time"

	"github.com/pvetenant/backend/shared/apperr"
	"github.com/pvetenant/backend/shared/awssecrets"
	"github.com/pvetenant/backend/shared/fanout"
	"github.com/pvetenant/backend/shared/httpapi"
	"github.com/pvetenant/backend/shared/proxmox"
)

// SecretKeys lists the keys a function takes from the secret: the same
// names as the variables, and only those its Needs allow (the service role
// key only for a function that invites users). template.yaml's secret holds
// exactly the union of these (infra/sam's tests).
func SecretKeys(need Needs) []awssecrets.Key {
	keys := []awssecrets.Key{{Name: "SUPABASE_JWT_SECRET"}}
	if need.Database {
		keys = append(keys, awssecrets.Key{Name: "DATABASE_URL", Required: true})
	}
	if need.Credentials {
		keys = append(keys, awssecrets.Key{Name: "CREDENTIALS_KEY", Required: true}, awssecrets.Key{Name: "CREDENTIALS_PREVIOUS_KEYS"})
	}
	if need.MayReceiveServiceRoleKey {
		keys = append(keys, awssecrets.Key{Name: "SUPABASE_SERVICE_ROLE_KEY"})
	}
	return keys
}

// fetchSecrets reads the keys need allows from the secret. getenv gives the
// region, credentials and endpoint the Lambda runtime sets; they are read
// only when a secret is named (so the template tests, which read FromEnv
// with every variable empty, do not ask the template for them).
func (c *Config) fetchSecrets(ctx context.Context, need Needs, getenv func(string) string) (map[string]string, error) {
	endpoint := getenv("AWS_ENDPOINT_URL_SECRETS_MANAGER")
	if endpoint == "" {
		endpoint = getenv("AWS_ENDPOINT_URL")
	}
	region := getenv("AWS_REGION")
	if region == "" {
		region = getenv("AWS_DEFAULT_REGION")
	}
	return awssecrets.Fetch(ctx, awssecrets.Source{
		ARN: c.SecretsARN, Region: region, Endpoint: strings.TrimSpace(endpoint),
		AccessKeyID: getenv("AWS_ACCESS_KEY_ID"), SecretAccessKey: getenv("AWS_SECRET_ACCESS_KEY"), SessionToken: getenv("AWS_SESSION_TOKEN"),
	}, SecretKeys(need))
}

// setSecrets sets what the secret holds; a malformed credentials key is an
// error naming its key, as it is in a variable.
func (c *Config) setSecrets(got map[string]string) error {
	key, previous := c.CredentialsKey, c.credentialsPrevious
	for k, v := range got {
		switch k {
		case "DATABASE_URL":
			c.DatabaseURL = v
		case "SUPABASE_JWT_SECRET":
			c.JWTSecret = v
		case "CREDENTIALS_KEY":
			key = v
		case "CREDENTIALS_PREVIOUS_KEYS":
			previous = v
		case "SUPABASE_SERVICE_ROLE_KEY":
			c.ServiceRoleKey = v
		}
	}
	if key == c.CredentialsKey && previous == c.credentialsPrevious {
		return nil // parsed already, by FromEnv
	}
	return c.setCredentials(key, previous)
}

// ErrConfigUnavailable is every answer of a function whose secret could not
// be read.
var ErrConfigUnavailable = apperr.New(apperr.Unavailable,
	"The service cannot read its configuration right now. Try again in a minute; if this goes on, tell the operator.").
	WithCode("configuration_unavailable").WithRetryAfter(time.Minute)

// LoadWithSecrets is Load after reading the secret c.SecretsARN names, when
// it names one: the settings it holds for need, parsed as FromEnv parses
// them, replace the variables. A secret
// that cannot be read (unknown ARN, no permission, a key missing, not JSON)
// is logged once, as one JSON line naming the secret and the key but never a
// value, and the function still starts: it answers every request 503 with a
// sentence (ErrConfigUnavailable) instead of failing its init over and over.
func LoadWithSecrets(ctx context.Context, c Config, need Needs, getenv func(string) string, logger *slog.Logger) (*Deps, error) {
	if logger == nil {
		logger = slog.Default()
	}
	if c.SecretsARN != "" {
		sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		got, err := c.fetchSecrets(sctx, need, getenv)
		cancel()
		if err != nil {
			logger.Error("secrets", "secret", c.SecretsARN, "error", err.Error())
			return unavailable(c, logger), nil
		}
		// A value the secret holds but that does not parse is wrong
		// configuration, like a malformed variable: the function does not start.
		if err := c.setSecrets(got); err != nil {
			return nil, err
		}
	}
	return Load(ctx, c, need, logger)
}

func unavailable(c Config, logger *slog.Logger) *Deps {
	return &Deps{
		Config:  c,
		Logger:  logger,
		Proxmox: proxmox.Options{Timeout: c.ProxmoxTimeout, Logger: logger},
		Clients: fanout.NewClients(1),
		Server: &httpapi.Server{Logger: logger, AllowedOrigins: c.AllowedOrigins, Timeout: c.RequestTimeout,
			Unavailable: ErrConfigUnavailable},
	}
}
