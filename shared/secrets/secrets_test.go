package secrets

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

// Fixed keys: 32 bytes each, one with bytes that need '+' '/' in standard
// base64 (and '-' '_' in the URL alphabet).
var (
	keyA = bytes.Repeat([]byte{0xfb, 0xff, 0xbf}, 11)[:32]
	keyB = bytes.Repeat([]byte{0x42}, 32)
)

func b64(k []byte) string { return base64.StdEncoding.EncodeToString(k) }

func mustKeyring(t testing.TB, current, previous string) *Keyring {
	t.Helper()
	k, err := ParseKeyring(current, previous)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

const server = "6f1c2a7e-3b4d-4c5e-8f90-123456789abc"

var tokenCreds = Credentials{TokenID: "root@pam!pvetenant", TokenSecret: "0b4e1c9d-secret-token-value"}
var passwordCreds = Credentials{Username: "admin@pve", Password: "hunter2-password-value"}

func TestRoundTrip(t *testing.T) {
	k := mustKeyring(t, b64(keyA), "")
	for _, c := range []Credentials{tokenCreds, passwordCreds} {
		id, sealed, err := k.SealCredentials(server, c)
		if err != nil {
			t.Fatal(err)
		}
		if id != k.CurrentID() {
			t.Errorf("key id %q, current %q", id, k.CurrentID())
		}
		if sealed[0] != 1 || len(sealed) < 1+12+16 {
			t.Errorf("sealed layout: version %d, %d bytes", sealed[0], len(sealed))
		}
		if bytes.Contains(sealed, []byte(c.TokenSecret+c.Password)) {
			t.Error("secret visible in the sealed blob")
		}
		got, err := k.OpenCredentials(server, id, sealed)
		if err != nil {
			t.Fatal(err)
		}
		if got != c {
			t.Errorf("opened %#v, want %#v", got, c) // redacted, but tells which field
		}
		if k.NeedsReseal(id) {
			t.Error("NeedsReseal for the current key")
		}
	}
}

func TestSealOpenRaw(t *testing.T) {
	k := mustKeyring(t, b64(keyA), "")
	for _, pt := range [][]byte{nil, {}, []byte("x"), bytes.Repeat([]byte("y"), 4096)} {
		id, sealed, err := k.Seal(pt, []byte("aad"))
		if err != nil {
			t.Fatal(err)
		}
		if len(sealed) != 1+12+len(pt)+16 {
			t.Errorf("len(sealed) = %d for %d bytes of plaintext", len(sealed), len(pt))
		}
		got, err := k.Open(id, sealed, []byte("aad"))
		if err != nil || !bytes.Equal(got, pt) {
			t.Errorf("Open = %q, %v; want %q", got, err, pt)
		}
	}
}

func TestKeyID(t *testing.T) {
	k := mustKeyring(t, b64(keyA), "")
	id := k.CurrentID()
	if len(id) != 17 || id[0] != 'k' {
		t.Fatalf("key id %q: want k + 16 hex", id)
	}
	if strings.Contains(id, fmt.Sprintf("%x", keyA[:8])) {
		t.Error("key id shows key bytes")
	}
	// The id is stored next to every blob, so its derivation must never
	// change: recompute it from the definition.
	sum := sha256.Sum256(append([]byte("pvetenant credentials key id\x00"), keyB...))
	if got, want := mustKeyring(t, b64(keyB), "").CurrentID(), "k"+hex.EncodeToString(sum[:])[:16]; got != want {
		t.Errorf("keyB id = %s, want %s", got, want)
	}
	if mustKeyring(t, b64(keyB), "").CurrentID() == id {
		t.Error("two keys, one id")
	}
}

func TestWrongServerFails(t *testing.T) {
	k := mustKeyring(t, b64(keyA), "")
	id, sealed, err := k.SealCredentials(server, tokenCreds)
	if err != nil {
		t.Fatal(err)
	}
	other := "0a1b2c3d-0000-4000-8000-000000000000"
	if _, err := k.OpenCredentials(other, id, sealed); !errors.Is(err, ErrCannotOpen) {
		t.Errorf("other server: err = %v, want ErrCannotOpen", err)
	}
	if _, err := k.Open(id, sealed, nil); !errors.Is(err, ErrCannotOpen) {
		t.Errorf("no aad: err = %v, want ErrCannotOpen", err)
	}
	if _, _, err := k.SealCredentials("", tokenCreds); err == nil {
		t.Error("sealed for an empty server id")
	}
	if _, err := k.OpenCredentials("", id, sealed); err == nil {
		t.Error("opened for an empty server id")
	}
}

func TestTamperingFails(t *testing.T) {
	k := mustKeyring(t, b64(keyA), "")
	id, sealed, err := k.SealCredentials(server, passwordCreds)
	if err != nil {
		t.Fatal(err)
	}
	// Every single bit flip, in version, nonce, ciphertext and tag.
	for i := range sealed {
		for bit := range 8 {
			bad := bytes.Clone(sealed)
			bad[i] ^= 1 << bit
			if _, err := k.OpenCredentials(server, id, bad); !errors.Is(err, ErrCannotOpen) {
				t.Fatalf("flip byte %d bit %d: err = %v, want ErrCannotOpen", i, bit, err)
			}
		}
	}
	for name, bad := range map[string][]byte{
		"nil":       nil,
		"truncated": sealed[:len(sealed)-1],
		"too short": sealed[:1+12+15],
		"extended":  append(bytes.Clone(sealed), 0),
	} {
		if _, err := k.OpenCredentials(server, id, bad); !errors.Is(err, ErrCannotOpen) {
			t.Errorf("%s: err = %v, want ErrCannotOpen", name, err)
		}
	}
	if ErrCannotOpen.Error() != "secrets: cannot open sealed data" {
		t.Errorf("ErrCannotOpen says %q", ErrCannotOpen)
	}
}

func TestRotation(t *testing.T) {
	old := mustKeyring(t, b64(keyB), "")
	oldID, sealed, err := old.SealCredentials(server, tokenCreds)
	if err != nil {
		t.Fatal(err)
	}

	// keyA is now current, keyB previous (URL alphabet, unpadded, with
	// spaces and an empty entry, as an operator might paste it).
	k := mustKeyring(t, b64(keyA), " , "+base64.RawURLEncoding.EncodeToString(keyB)+" ,")
	if k.CurrentID() == oldID {
		t.Fatal("rotation kept the old current id")
	}
	got, err := k.OpenCredentials(server, oldID, sealed)
	if err != nil {
		t.Fatalf("previous key does not open: %v", err)
	}
	if got != tokenCreds {
		t.Errorf("opened %#v", got)
	}
	if !k.NeedsReseal(oldID) {
		t.Error("NeedsReseal false for a previous key")
	}
	newID, resealed, err := k.SealCredentials(server, got)
	if err != nil {
		t.Fatal(err)
	}
	if newID != k.CurrentID() || k.NeedsReseal(newID) {
		t.Errorf("reseal: id %q, NeedsReseal %v", newID, k.NeedsReseal(newID))
	}
	if _, err := k.OpenCredentials(server, newID, resealed); err != nil {
		t.Fatal(err)
	}
	// A blob opens only under the key id it was sealed with.
	if _, err := k.OpenCredentials(server, newID, sealed); !errors.Is(err, ErrCannotOpen) {
		t.Errorf("old blob under new id: err = %v, want ErrCannotOpen", err)
	}
	// Once the old key is retired the old blob names an unknown key.
	retired := mustKeyring(t, b64(keyA), "")
	if _, err := retired.OpenCredentials(server, oldID, sealed); !errors.Is(err, ErrUnknownKey) {
		t.Errorf("retired key: err = %v, want ErrUnknownKey", err)
	}
	if retired.NeedsReseal(oldID) {
		t.Error("NeedsReseal true for an unknown key")
	}
	// The current key listed among the previous ones is harmless.
	if k2 := mustKeyring(t, b64(keyA), b64(keyA)+","+b64(keyB)); !k2.NeedsReseal(oldID) || k2.NeedsReseal(k2.CurrentID()) {
		t.Error("duplicate of the current key confused NeedsReseal")
	}
}

func TestUnknownKey(t *testing.T) {
	k := mustKeyring(t, b64(keyA), "")
	_, sealed, err := k.SealCredentials(server, tokenCreds)
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"", "k0000000000000000", "legacy"} {
		if _, err := k.OpenCredentials(server, id, sealed); !errors.Is(err, ErrUnknownKey) {
			t.Errorf("key id %q: err = %v, want ErrUnknownKey", id, err)
		}
	}
}

func TestKeyForms(t *testing.T) {
	want := mustKeyring(t, b64(keyA), "").CurrentID()
	for name, s := range map[string]string{
		"std padded":           base64.StdEncoding.EncodeToString(keyA),
		"std unpadded":         base64.RawStdEncoding.EncodeToString(keyA),
		"url padded":           base64.URLEncoding.EncodeToString(keyA),
		"url unpadded":         base64.RawURLEncoding.EncodeToString(keyA),
		"trailing \\n":         base64.StdEncoding.EncodeToString(keyA) + "\n",
		"surrounded by spaces": "  " + base64.StdEncoding.EncodeToString(keyA) + " ",
	} {
		k, err := ParseKeyring(s, "")
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if k.CurrentID() != want {
			t.Errorf("%s: id %s, want %s", name, k.CurrentID(), want)
		}
	}
}

func TestBadKeysRejectedWithoutEcho(t *testing.T) {
	secretish := func(n int) string { return base64.StdEncoding.EncodeToString(bytes.Repeat([]byte("S3cr"), n)[:n]) }
	good := b64(keyA)
	for _, tt := range []struct {
		name, current, previous, wantMsg string
	}{
		{"empty", "", "", "CREDENTIALS_KEY: empty"},
		{"blank", "  \n", "", "CREDENTIALS_KEY: empty"},
		{"16 bytes (AES-128)", secretish(16), "", "decodes to 16 bytes, want 32"},
		{"31 bytes", secretish(31), "", "decodes to 31 bytes, want 32"},
		{"33 bytes", secretish(33), "", "decodes to 33 bytes, want 32"},
		{"64 bytes", secretish(64), "", "decodes to 64 bytes, want 32"},
		{"hex instead of base64", fmt.Sprintf("%x", keyA), "", "decodes to 48 bytes, want 32"},
		{"not base64", "this is not base64 at all!!", "", "CREDENTIALS_KEY: not base64"},
		{"mixed alphabets", strings.Replace(base64.StdEncoding.EncodeToString(keyA), "/", "_", 1), "", "mixes the standard and URL alphabets"},
		{"non-canonical trailing bits", good[:42] + "B=", "", "CREDENTIALS_KEY: not base64"},
		{"bad previous", good, b64(keyB) + "," + secretish(20), "previous credentials key #2: decodes to 20 bytes, want 32"},
		{"garbage previous", good, "@@@@SecretGarbage@@@@", "previous credentials key #1: not base64"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			k, err := ParseKeyring(tt.current, tt.previous)
			if err == nil {
				t.Fatalf("accepted: %v", k)
			}
			msg := err.Error()
			if !strings.Contains(msg, tt.wantMsg) {
				t.Errorf("error %q lacks %q", msg, tt.wantMsg)
			}
			for _, in := range strings.Split(tt.current+","+tt.previous, ",") {
				in = strings.TrimSpace(in)
				if len(in) >= 4 && strings.Contains(msg, in[:4]) || in != "" && strings.Contains(msg, in) {
					t.Errorf("error %q echoes input %q", msg, in)
				}
			}
		})
	}
}

// secretsIn lists the secret values found in s, as text or in hex (%x).
func secretsIn(s string) []string {
	var found []string
	for _, secret := range []string{tokenCreds.TokenSecret, passwordCreds.Password} {
		if strings.Contains(strings.ToLower(s), secret) || strings.Contains(strings.ToLower(s), hex.EncodeToString([]byte(secret))) {
			found = append(found, secret)
		}
	}
	return found
}

// marksRedaction: the output says a secret was hidden (in hex for %x).
func marksRedaction(s string) bool {
	return strings.Contains(s, redacted) || strings.Contains(strings.ToLower(s), hex.EncodeToString([]byte(redacted)))
}

func TestCredentialsNeverPrintSecrets(t *testing.T) {
	for _, c := range []Credentials{tokenCreds, passwordCreds} {
		type wrapper struct {
			Creds Credentials
			Ptr   *Credentials
		}
		outputs := map[string]string{}
		for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d", "%20v", "%-8s", "%+q"} {
			outputs[verb] = fmt.Sprintf(verb, c)
			outputs[verb+" ptr"] = fmt.Sprintf(verb, &c)
			outputs[verb+" nested"] = fmt.Sprintf(verb, wrapper{c, &c})
			outputs[verb+" slice"] = fmt.Sprintf(verb, []Credentials{c})
			outputs[verb+" map"] = fmt.Sprintf(verb, map[string]Credentials{"s": c})
		}
		outputs["Sprint"] = fmt.Sprint(c)
		outputs["Sprintln"] = fmt.Sprintln(c)
		outputs["error wrap"] = fmt.Errorf("connect with %v: %w", c, errors.New("x")).Error()

		var buf bytes.Buffer
		log := slog.New(slog.NewJSONHandler(&buf, nil))
		log.Info("creds", "c", c, "p", &c, slog.Any("any", c))
		log.Info("group", slog.Group("g", "c", c))
		outputs["slog json"] = buf.String()
		buf.Reset()
		slog.New(slog.NewTextHandler(&buf, nil)).Info("creds", "c", c, "p", &c)
		outputs["slog text"] = buf.String()

		for how, out := range outputs {
			if found := secretsIn(out); len(found) > 0 {
				t.Errorf("%s prints %v: %s", how, found, out)
			}
			if !marksRedaction(out) {
				t.Errorf("%s does not mark the redaction: %s", how, out)
			}
		}
	}

	// What a person sees: identity kept, secret hidden, emptiness visible.
	for _, tt := range []struct{ format, want string }{
		{fmt.Sprintf("%v", tokenCreds), `{token "root@pam!pvetenant" secret:"[REDACTED]"}`},
		{fmt.Sprintf("%v", passwordCreds), `{password "admin@pve" password:"[REDACTED]"}`},
		{fmt.Sprintf("%v", Credentials{TokenID: "a@pve!t"}), `{token "a@pve!t" secret:""}`},
		{fmt.Sprintf("%#v", tokenCreds), `secrets.Credentials{TokenID:"root@pam!pvetenant", TokenSecret:"[REDACTED]", Username:"", Password:""}`},
		{fmt.Sprintf("%q", passwordCreds), `"{password \"admin@pve\" password:\"[REDACTED]\"}"`},
		{fmt.Sprintf("%d", passwordCreds), `%!d(string={password "admin@pve" password:"[REDACTED]"})`},
	} {
		if tt.format != tt.want {
			t.Errorf("got  %s\nwant %s", tt.format, tt.want)
		}
	}
	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{ReplaceAttr: dropTime})).Info("m", "c", tokenCreds)
	if want := `{"level":"INFO","msg":"m","c":{"authType":"token","tokenId":"root@pam!pvetenant","tokenSecret":"[REDACTED]"}}` + "\n"; buf.String() != want {
		t.Errorf("slog JSON\n got: %s\nwant: %s", buf.String(), want)
	}
}

func dropTime(groups []string, a slog.Attr) slog.Attr {
	if len(groups) == 0 && a.Key == slog.TimeKey {
		return slog.Attr{}
	}
	return a
}

func TestKeyringNeverPrintsKeys(t *testing.T) {
	k := mustKeyring(t, b64(keyA), b64(keyB))
	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("k", "keyring", k)
	for how, out := range map[string]string{
		"%v": fmt.Sprintf("%v", k), "%+v": fmt.Sprintf("%+v", k), "%#v": fmt.Sprintf("%#v", k),
		"%d": fmt.Sprintf("%d", k), "%v value": fmt.Sprintf("%v", *k), "%#v value": fmt.Sprintf("%#v", *k),
		"slog": buf.String(),
	} {
		for _, key := range [][]byte{keyA, keyB} {
			for _, enc := range []string{b64(key), fmt.Sprintf("%x", key[:8]), fmt.Sprint(key[:8])} {
				if strings.Contains(out, enc) {
					t.Errorf("%s shows key material: %s", how, out)
				}
			}
		}
		if !strings.Contains(out, k.CurrentID()) {
			t.Errorf("%s does not name the current key: %s", how, out)
		}
		if strings.Contains(out, "aes") || strings.Contains(out, "gcm") || len(out) > 200 {
			t.Errorf("%s walks into the ciphers: %s", how, out)
		}
	}
}

func TestNoncesDiffer(t *testing.T) {
	k := mustKeyring(t, b64(keyA), "")
	seen := map[string]bool{}
	var first []byte
	for i := range 1000 {
		_, sealed, err := k.SealCredentials(server, tokenCreds)
		if err != nil {
			t.Fatal(err)
		}
		nonce := string(sealed[1:13])
		if seen[nonce] {
			t.Fatalf("seal %d reused a nonce", i)
		}
		seen[nonce] = true
		if i == 0 {
			first = sealed
		} else if i == 1 && bytes.Equal(first[13:], sealed[13:]) {
			t.Fatal("two seals of the same plaintext have the same ciphertext")
		}
	}
}

func TestAuthType(t *testing.T) {
	for _, tt := range []struct {
		c    Credentials
		want string
	}{
		{tokenCreds, "token"},
		{passwordCreds, "password"},
		{Credentials{TokenID: "a@pve!t"}, "token"},
		{Credentials{}, "password"},
	} {
		if got := tt.c.AuthType(); got != tt.want {
			t.Errorf("%v.AuthType() = %q, want %q", tt.c, got, tt.want)
		}
	}
}

func TestOpenedButNotCredentials(t *testing.T) {
	k := mustKeyring(t, b64(keyA), "")
	id, sealed, err := k.Seal([]byte(`["hunter2-password-value"`), []byte("proxmox_server:"+server))
	if err != nil {
		t.Fatal(err)
	}
	_, err = k.OpenCredentials(server, id, sealed)
	if err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Errorf("err = %v", err)
	}
}

func TestZeroKeyring(t *testing.T) {
	var k Keyring
	if _, _, err := k.Seal([]byte("x"), nil); err == nil {
		t.Error("zero Keyring sealed")
	}
	if _, err := k.Open("", []byte("x"), nil); !errors.Is(err, ErrUnknownKey) {
		t.Errorf("zero Keyring Open: %v", err)
	}
}

func BenchmarkSealCredentials(b *testing.B) {
	k := mustKeyring(b, b64(keyA), "")
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := k.SealCredentials(server, tokenCreds); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkOpenCredentials(b *testing.B) {
	k := mustKeyring(b, b64(keyA), "")
	id, sealed, err := k.SealCredentials(server, tokenCreds)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := k.OpenCredentials(server, id, sealed); err != nil {
			b.Fatal(err)
		}
	}
}
