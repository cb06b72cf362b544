package setup_test

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net/netip"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/pvetenant/backend/shared/awssecrets/smtest"
	"github.com/pvetenant/backend/shared/ratelimit"
	"github.com/pvetenant/backend/shared/secrets"
	"github.com/pvetenant/backend/shared/setup"
)

func newKey(t *testing.T) string {
	t.Helper()
	k := make([]byte, 32)
	_, _ = rand.Read(k)
	return base64.StdEncoding.EncodeToString(k)
}

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

// FromEnv parses every setting into the value the functions use; Load
// builds from those values as they are.
func TestFromEnvParsesEverySetting(t *testing.T) {
	current, previous := newKey(t), newKey(t)
	c, err := setup.FromEnv(env(map[string]string{
		"SUPABASE_JWT_SECRET": strings.Repeat("s", 40), "CREDENTIALS_KEY": current, "CREDENTIALS_PREVIOUS_KEYS": previous + ",",
		"PROXMOX_ALLOW_CIDRS": "127.0.0.0/8, 10.0.0.1", "PROXMOX_DENY_CIDRS": "127.0.0.2/32",
		"PROXMOX_ALLOWED_PORTS": "8006, 443, 8000-8002", "RATE_LIMITS": "probe_per_user=10/1m, power_per_user=0",
	}))
	if err != nil {
		t.Fatal(err)
	}
	want := []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("10.0.0.1/32")}
	if !reflect.DeepEqual(c.ProxmoxAllowCIDRs, want) || !reflect.DeepEqual(c.ProxmoxDenyCIDRs, []netip.Prefix{netip.MustParsePrefix("127.0.0.2/32")}) {
		t.Fatalf("allow %v, deny %v", c.ProxmoxAllowCIDRs, c.ProxmoxDenyCIDRs)
	}
	if !reflect.DeepEqual(c.ProxmoxAllowedPorts, []uint16{8006, 443, 8000, 8001, 8002}) {
		t.Fatalf("ports %v", c.ProxmoxAllowedPorts)
	}
	limits := ratelimit.Defaults()
	limits.ProbePerUser = ratelimit.Rule{Limit: 10, Window: time.Minute}
	limits.PowerPerUser.Limit = 0
	if c.RateLimits != limits {
		t.Fatalf("limits %+v, want %+v", c.RateLimits, limits)
	}
	// The keyring seals with the current key and still opens what the
	// previous one sealed.
	old, err := secrets.ParseKeyring(previous, "")
	if err != nil {
		t.Fatal(err)
	}
	id, blob, err := old.Seal([]byte("x"), []byte("aad"))
	if err != nil {
		t.Fatal(err)
	}
	if c.Keyring == nil || !c.Keyring.NeedsReseal(id) {
		t.Fatalf("keyring %v does not know the previous key", c.Keyring)
	}
	if got, err := c.Keyring.Open(id, blob, []byte("aad")); err != nil || string(got) != "x" {
		t.Fatalf("open under the previous key: %q %v", got, err)
	}

	d, err := setup.Load(context.Background(), c, setup.Needs{Credentials: true}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if d.Keyring != c.Keyring || d.Limits != c.RateLimits || !reflect.DeepEqual(d.Proxmox.Guard.AllowList(), want) {
		t.Fatalf("Deps keyring %v, limits %+v, allow list %v", d.Keyring, d.Limits, d.Proxmox.Guard.AllowList())
	}
	if err := d.Proxmox.Guard.Check(netip.MustParseAddr("127.0.0.2")); err == nil {
		t.Fatal("the denied address passes the guard")
	}
}

// Every malformed setting is reported at once, each naming its variable,
// and no key material is echoed.
func TestFromEnvNamesEveryMalformedVariable(t *testing.T) {
	const badKey = "c2hvcnQta2V5LW1hdGVyaWFs" // base64 of 18 bytes
	_, err := setup.FromEnv(env(map[string]string{
		"CREDENTIALS_KEY": badKey, "PROXMOX_ALLOW_CIDRS": "10.0.0.0/33", "PROXMOX_DENY_CIDRS": "nowhere",
		"PROXMOX_ALLOWED_PORTS": "70000", "RATE_LIMITS": "probe_per_user=many", "PROXMOX_TIMEOUT": "soon", "LOG_LEVEL": "loud",
	}))
	if err == nil {
		t.Fatal("no error")
	}
	lines := strings.Split(err.Error(), "\n")
	for _, name := range []string{"CREDENTIALS_KEY", "PROXMOX_ALLOW_CIDRS", "PROXMOX_DENY_CIDRS", "PROXMOX_ALLOWED_PORTS",
		"RATE_LIMITS", "PROXMOX_TIMEOUT", "LOG_LEVEL"} {
		n := 0
		for _, l := range lines {
			if strings.HasPrefix(l, name+":") || strings.HasPrefix(l, name+" ") {
				n++
			}
		}
		if n != 1 {
			t.Errorf("%d lines start with %s in:\n%s", n, name, err)
		}
	}
	if strings.Contains(err.Error(), badKey) {
		t.Fatal("the key reached the error")
	}

	// A good current key with a malformed previous one names the latter.
	_, err = setup.FromEnv(env(map[string]string{"CREDENTIALS_KEY": newKey(t), "CREDENTIALS_PREVIOUS_KEYS": badKey}))
	if err == nil || !strings.HasPrefix(err.Error(), "CREDENTIALS_PREVIOUS_KEYS: ") || strings.Contains(err.Error(), badKey) {
		t.Fatalf("err %v", err)
	}
	// Without any variable nothing is malformed; what a function requires
	// is Load's to say.
	c, err := setup.FromEnv(env(nil))
	if err != nil || c.Keyring != nil || c.RateLimits != ratelimit.Defaults() {
		t.Fatalf("empty environment: %+v, %v", c, err)
	}
	if _, err := setup.Load(context.Background(), c, setup.Needs{Credentials: true}, nil); err == nil ||
		!strings.Contains(err.Error(), "CREDENTIALS_KEY is required") {
		t.Fatalf("Load without a key: %v", err)
	}
}

// The keys a secret holds are parsed like variables: a secret bringing
// only CREDENTIALS_KEY keeps the variable's previous keys, and a malformed
// key in the secret stops the function like a malformed variable does.
func TestSecretKeysAreParsed(t *testing.T) {
	current, previous := newKey(t), newKey(t)
	b, _ := json.Marshal(map[string]string{"SUPABASE_JWT_SECRET": strings.Repeat("s", 40), "CREDENTIALS_KEY": current})
	bad, _ := json.Marshal(map[string]string{"SUPABASE_JWT_SECRET": strings.Repeat("s", 40), "CREDENTIALS_KEY": "bm90IDMyIGJ5dGVz"})
	sm := smtest.New(map[string]string{smtest.ARN("good"): string(b), smtest.ARN("bad"): string(bad)})
	t.Cleanup(sm.Close)
	vars := map[string]string{
		"AWS_REGION": "us-east-1", "AWS_ENDPOINT_URL_SECRETS_MANAGER": sm.URL, "AWS_ACCESS_KEY_ID": "AKIDEXAMPLE",
		"AWS_SECRET_ACCESS_KEY": "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "CREDENTIALS_PREVIOUS_KEYS": previous,
	}
	load := func(arn string) (*setup.Deps, error) {
		vars["SECRETS_ARN"] = arn
		c, err := setup.FromEnv(env(vars))
		if err != nil {
			t.Fatal(err)
		}
		return setup.LoadWithSecrets(context.Background(), c, setup.Needs{Credentials: true}, env(vars), slog.New(slog.NewTextHandler(io.Discard, nil)))
	}
	d, err := load(smtest.ARN("good"))
	if err != nil {
		t.Fatal(err)
	}
	old, _ := secrets.ParseKeyring(previous, "")
	now, _ := secrets.ParseKeyring(current, "")
	if d.Keyring == nil || d.Keyring.CurrentID() != now.CurrentID() || !d.Keyring.NeedsReseal(old.CurrentID()) {
		t.Fatalf("keyring %v: want the secret's key current and the variable's previous key", d.Keyring)
	}
	d.Close()
	if _, err := load(smtest.ARN("bad")); err == nil || !strings.HasPrefix(err.Error(), "CREDENTIALS_KEY: ") {
		t.Fatalf("malformed key in the secret: %v", err)
	}
}
