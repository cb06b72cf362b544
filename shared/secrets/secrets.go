// Package secrets seals Proxmox credentials with AES-256-GCM. The key lives
// only in the functions' configuration (CREDENTIALS_KEY); the database holds
// the sealed blob and the id of the key that sealed it, so keys can be
// rotated: a new current key seals, previous keys still open until every
// blob has been resealed.
package secrets

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
)

// KeySize is the length of a credentials key: AES-256.
const KeySize = 32

// version is the first byte of every sealed blob, so the layout can change
// without guessing.
const version byte = 1

// overhead is the version byte, the 12-byte nonce and the 16-byte tag.
const overhead = 1 + 12 + 16

var (
	// ErrUnknownKey: the blob names a key that is neither the current nor a
	// previous one (a key was retired too early, or the wrong key is configured).
	ErrUnknownKey = errors.New("secrets: sealed under an unknown key")
	// ErrCannotOpen: the blob is damaged, was moved to another server, or was
	// not sealed by this key. Deliberately without detail.
	ErrCannotOpen = errors.New("secrets: cannot open sealed data")
)

// Keyring holds the current key, which seals, and previous keys, which only
// open.
type Keyring struct {
	current string                 // key id
	aeads   map[string]cipher.AEAD // by key id, current included
	order   []string               // previous key ids, as configured
}

// ParseKeyring parses CREDENTIALS_KEY (base64 — std or URL alphabet, padded
// or not — of exactly 32 bytes) and optional previous keys (comma-separated,
// same form) still accepted for opening during rotation. Errors never echo
// key material.
func ParseKeyring(current string, previous string) (*Keyring, error) {
	key, err := parseKey(current)
	if err != nil {
		return nil, fmt.Errorf("secrets: CREDENTIALS_KEY: %w", err)
	}
	k := &Keyring{aeads: map[string]cipher.AEAD{}}
	if k.current, err = k.add(key); err != nil {
		return nil, err
	}
	if strings.TrimSpace(previous) == "" {
		return k, nil
	}
	for i, s := range strings.Split(previous, ",") {
		if strings.TrimSpace(s) == "" {
			continue // tolerate "a,,b" and a trailing comma
		}
		key, err := parseKey(s)
		if err != nil {
			return nil, fmt.Errorf("secrets: previous credentials key #%d: %w", i+1, err)
		}
		id := keyID(key)
		if _, dup := k.aeads[id]; dup {
			continue // the current key listed again during a rotation is harmless
		}
		if _, err := k.add(key); err != nil {
			return nil, err
		}
		k.order = append(k.order, id)
	}
	return k, nil
}

// parseKey decodes one key. Its errors describe the input's shape only.
func parseKey(s string) ([]byte, error) {
	s = strings.TrimSpace(s) // values from files and consoles often end in a newline
	if s == "" {
		return nil, errors.New("empty")
	}
	if strings.ContainsAny(s, "+/") && strings.ContainsAny(s, "-_") {
		return nil, errors.New("not base64: mixes the standard and URL alphabets")
	}
	// One decoder for all four forms: URL alphabet mapped to standard,
	// padding dropped. Strict so that exactly one string names each key.
	s = strings.TrimRight(s, "=")
	s = strings.NewReplacer("-", "+", "_", "/").Replace(s)
	key, err := base64.RawStdEncoding.Strict().DecodeString(s)
	if err != nil {
		return nil, errors.New("not base64 (standard or URL alphabet, padded or not)")
	}
	if len(key) != KeySize {
		return nil, fmt.Errorf("decodes to %d bytes, want %d (generate one with: openssl rand -base64 32)", len(key), KeySize)
	}
	return key, nil
}

func (k *Keyring) add(key []byte) (string, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return "", fmt.Errorf("secrets: %w", err)
	}
	// The standard library's random-nonce GCM: 96-bit nonce from crypto/rand,
	// prepended to the ciphertext, which is the layout we store.
	aead, err := cipher.NewGCMWithRandomNonce(block)
	if err != nil {
		return "", fmt.Errorf("secrets: %w", err)
	}
	id := keyID(key)
	k.aeads[id] = aead
	return id, nil
}

// keyID names a key without revealing it: a domain-separated SHA-256, cut
// to 64 bits (enough to tell a handful of keys apart).
func keyID(key []byte) string {
	h := sha256.New()
	h.Write([]byte("pvetenant credentials key id\x00"))
	h.Write(key)
	return "k" + hex.EncodeToString(h.Sum(nil))[:16]
}

// CurrentID is the id of the key that seals; it is stored next to each
// sealed blob.
func (k *Keyring) CurrentID() string { return k.current }

// Seal encrypts plaintext under the current key, binding aad. sealed is
// version byte 1 || 12-byte random nonce || ciphertext+tag.
func (k *Keyring) Seal(plaintext, aad []byte) (keyID string, sealed []byte, err error) {
	aead := k.aeads[k.current]
	if aead == nil {
		return "", nil, errors.New("secrets: keyring has no key (use ParseKeyring)")
	}
	out := make([]byte, 1, overhead+len(plaintext))
	out[0] = version
	return k.current, aead.Seal(out, nil, plaintext, aad), nil
}

// Open decrypts a blob sealed under keyID with the same aad. An unknown key
// id is ErrUnknownKey; anything else that fails is ErrCannotOpen.
func (k *Keyring) Open(keyID string, sealed, aad []byte) ([]byte, error) {
	aead, ok := k.aeads[keyID]
	if !ok {
		return nil, ErrUnknownKey
	}
	if len(sealed) < overhead || sealed[0] != version {
		return nil, ErrCannotOpen
	}
	plaintext, err := aead.Open(nil, nil, sealed[1:], aad)
	if err != nil {
		return nil, ErrCannotOpen
	}
	return plaintext, nil
}

// NeedsReseal reports whether keyID is a previous key: the blob opens, but
// should be sealed again under the current key so the old one can retire.
func (k *Keyring) NeedsReseal(keyID string) bool {
	_, known := k.aeads[keyID]
	return known && keyID != k.current
}

// String names the keys by id only.
func (k Keyring) String() string {
	return "secrets.Keyring{current:" + k.current + " previous:[" + strings.Join(k.order, " ") + "]}"
}

// Format keeps every verb, %#v and %d included, from walking into the
// ciphers, whose state holds the expanded keys. Value receivers cover both
// k and *k.
func (k Keyring) Format(f fmt.State, verb rune) {
	fmt.Fprintf(f, fmt.FormatString(f, verb), k.String())
}

// LogValue logs key ids only.
func (k Keyring) LogValue() slog.Value {
	return slog.GroupValue(slog.String("current", k.current), slog.Any("previous", k.order))
}

// Credentials are what gets sealed (JSON), e.g.
// {"tokenId":"user@realm!name","tokenSecret":"..."} or
// {"username":"user@realm","password":"..."}.
type Credentials struct {
	TokenID     string `json:"tokenId,omitempty"`
	TokenSecret string `json:"tokenSecret,omitempty"`
	Username    string `json:"username,omitempty"`
	Password    string `json:"password,omitempty"`
}

// AuthType is "token" for an API token, else "password" (the values of the
// auth_type column).
func (c Credentials) AuthType() string {
	if c.TokenID != "" || c.TokenSecret != "" {
		return "token"
	}
	return "password"
}

const redacted = "[REDACTED]"

// redact hides a secret but says whether there is one, which is what a
// person debugging needs to know.
func redact(s string) string {
	if s == "" {
		return ""
	}
	return redacted
}

// String shows the identity (a token id or user name is not a secret) and
// hides the secret.
func (c Credentials) String() string {
	if c.AuthType() == "token" {
		return fmt.Sprintf("{token %s secret:%s}", strconv.Quote(c.TokenID), strconv.Quote(redact(c.TokenSecret)))
	}
	return fmt.Sprintf("{password %s password:%s}", strconv.Quote(c.Username), strconv.Quote(redact(c.Password)))
}

// GoString is %#v.
func (c Credentials) GoString() string {
	return fmt.Sprintf("secrets.Credentials{TokenID:%q, TokenSecret:%q, Username:%q, Password:%q}",
		c.TokenID, redact(c.TokenSecret), c.Username, redact(c.Password))
}

// Format routes every verb through String or GoString: fmt only consults
// Stringer for %v %s %q %x %X, and %d would print the fields.
func (c Credentials) Format(f fmt.State, verb rune) {
	if verb == 'v' && f.Flag('#') {
		_, _ = io.WriteString(f, c.GoString())
		return
	}
	fmt.Fprintf(f, fmt.FormatString(f, verb), c.String())
}

// LogValue is what slog logs instead of the fields.
func (c Credentials) LogValue() slog.Value {
	if c.AuthType() == "token" {
		return slog.GroupValue(slog.String("authType", "token"), slog.String("tokenId", c.TokenID),
			slog.String("tokenSecret", redact(c.TokenSecret)))
	}
	return slog.GroupValue(slog.String("authType", "password"), slog.String("username", c.Username),
		slog.String("password", redact(c.Password)))
}

// serverAAD binds a blob to its server: a blob copied onto another server's
// row does not open there.
func serverAAD(serverID string) ([]byte, error) {
	if serverID == "" {
		return nil, errors.New("secrets: empty server id")
	}
	return []byte("proxmox_server:" + serverID), nil
}

// SealCredentials seals c for the server serverID.
func (k *Keyring) SealCredentials(serverID string, c Credentials) (keyID string, sealed []byte, err error) {
	aad, err := serverAAD(serverID)
	if err != nil {
		return "", nil, err
	}
	plaintext, err := json.Marshal(c)
	if err != nil {
		return "", nil, fmt.Errorf("secrets: %w", err)
	}
	defer clear(plaintext)
	return k.Seal(plaintext, aad)
}

// OpenCredentials opens what SealCredentials sealed for serverID.
func (k *Keyring) OpenCredentials(serverID, keyID string, sealed []byte) (Credentials, error) {
	aad, err := serverAAD(serverID)
	if err != nil {
		return Credentials{}, err
	}
	plaintext, err := k.Open(keyID, sealed, aad)
	if err != nil {
		return Credentials{}, err
	}
	defer clear(plaintext)
	var c Credentials
	if err := json.Unmarshal(plaintext, &c); err != nil {
		// Authentic but not credentials: a bug, never an attacker. The
		// decoder's message could quote the plaintext, so it is dropped.
		return Credentials{}, errors.New("secrets: sealed data is not credentials JSON")
	}
	return c, nil
}
