package proxmoxservers

import (
	"net/netip"
	"regexp"
	"strings"

	"github.com/pvetenant/backend/shared/apperr"
	"github.com/pvetenant/backend/shared/httpapi"
	"github.com/pvetenant/backend/shared/proxmox"
	"github.com/pvetenant/backend/shared/secrets"
)

var (
	fingerprintRe = regexp.MustCompile(`^([0-9A-Fa-f]{2}:){31}[0-9A-Fa-f]{2}$`)
)

func bad(msg string) error { return apperr.New(apperr.Invalid, msg) }

// validHost accepts a DNS name or an IP address, nothing else: no scheme,
// path, port or user info.
func validHost(h string) (string, error) {
	if strings.Contains(h, "://") || strings.ContainsAny(h, "/?#@ ") {
		return "", bad("host must be a host name or an IP address, without scheme, port or path (e.g. pve1.example.com).")
	}
	if a, err := netip.ParseAddr(strings.Trim(h, "[]")); err == nil {
		if a.Zone() != "" {
			return "", bad("host must not carry an IPv6 zone.")
		}
		return a.String(), nil
	}
	if strings.Contains(h, ":") {
		return "", bad("host must not include a port: use the port field.")
	}
	// The rest is the Proxmox client's own rule, so nothing is stored that
	// the client would refuse, and nothing refused that it would accept.
	n, err := proxmox.NormalizeHost(h)
	if err != nil {
		return "", bad("host must be a valid host name or IP address.")
	}
	return n, nil
}

// normalizeFingerprint returns the SHA-256 fingerprint in Proxmox's form:
// uppercase colon hex.
func normalizeFingerprint(fp string) (string, error) {
	if !fingerprintRe.MatchString(fp) {
		return "", bad("tlsFingerprint must be a SHA-256 fingerprint in colon hex (32 pairs, e.g. AB:CD:...), as Proxmox shows it.")
	}
	return strings.ToUpper(fp), nil
}

// input is a create or update request; nil fields were not given.
type input struct {
	tenantID    *string
	name, host  *string
	port        *int
	verifyTLS   *bool
	fingerprint *string // "" clears the pin
	isActive    *bool
	creds       *secrets.Credentials
	endpoints   *[]proxmox.Endpoint // issue 14 (cluster.go)
	caPEM       *string             // "" clears
}

func parseInput(p httpapi.Params) (in input, err error) {
	if v, ok, err := p.OptionalUUID("tenantId"); err != nil {
		return in, err
	} else if ok {
		in.tenantID = &v
	}
	if v, ok, err := p.OptionalString("name", 100); err != nil {
		return in, err
	} else if ok {
		in.name = &v
	} else if p.Has("name") {
		return in, bad("name must not be empty.")
	}
	if v, ok, err := p.OptionalString("host", 253); err != nil {
		return in, err
	} else if ok {
		h, err := validHost(v)
		if err != nil {
			return in, err
		}
		in.host = &h
	} else if p.Has("host") {
		return in, bad("host must not be empty.")
	}
	if v, ok, err := p.OptionalInt("port", 1, 65535); err != nil {
		return in, err
	} else if ok {
		port := int(v)
		in.port = &port
	}
	if v, ok, err := p.OptionalBool("verifyTls"); err != nil {
		return in, err
	} else if ok {
		in.verifyTLS = &v
	}
	if p.Has("tlsFingerprint") {
		v, ok, err := p.OptionalString("tlsFingerprint", 200)
		if err != nil {
			return in, err
		}
		fp := ""
		if ok {
			if fp, err = normalizeFingerprint(v); err != nil {
				return in, err
			}
		}
		in.fingerprint = &fp
	}
	if v, ok, err := p.OptionalBool("isActive"); err != nil {
		return in, err
	} else if ok {
		in.isActive = &v
	}
	if in.endpoints, err = parseEndpoints(p); err != nil {
		return in, err
	}
	if in.caPEM, err = parseCAPEM(p); err != nil {
		return in, err
	}
	in.creds, err = parseCredentials(p)
	return in, err
}

// parseCredentials reads an API token (tokenId + tokenSecret) or a user
// (username + password). Either pair is given whole or not at all.
func parseCredentials(p httpapi.Params) (*secrets.Credentials, error) {
	tokenID, hasID, err := p.OptionalString("tokenId", 200)
	if err != nil {
		return nil, err
	}
	secret, hasSecret, err := p.OptionalString("tokenSecret", 512)
	if err != nil {
		return nil, bad("tokenSecret must be a string of at most 512 characters.")
	}
	user, hasUser, err := p.OptionalString("username", 200)
	if err != nil {
		return nil, err
	}
	password, hasPassword, err := p.OptionalString("password", 1024)
	if err != nil {
		return nil, bad("password must be a string of at most 1024 characters.")
	}
	token, login := hasID || hasSecret, hasUser || hasPassword
	switch {
	case token && login:
		return nil, bad("Give either an API token (tokenId, tokenSecret) or a user (username, password), not both.")
	case token:
		if !hasID || !hasSecret {
			return nil, bad("An API token needs both tokenId and tokenSecret.")
		}
		if !proxmox.ValidTokenID(tokenID) {
			return nil, bad(`tokenId must look like user@realm!tokenname (e.g. root@pam!monitoring).`)
		}
		if strings.ContainsAny(secret, " \t\r\n") {
			return nil, bad("tokenSecret must not contain spaces.")
		}
		return &secrets.Credentials{TokenID: tokenID, TokenSecret: secret}, nil
	case login:
		if !hasUser || !hasPassword {
			return nil, bad("A user login needs both username and password.")
		}
		if !proxmox.ValidUserID(user) {
			return nil, bad("username must look like user@realm (e.g. root@pam).")
		}
		return &secrets.Credentials{Username: user, Password: password}, nil
	}
	return nil, nil
}
