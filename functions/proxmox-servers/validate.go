package proxmoxservers

import (
	"net/netip"
	"regexp"
	"strings"

	"github.com/pvetenant/backend/functions/proxmox-servers/store"
	"github.com/pvetenant/backend/shared/httpapi"
	"github.com/pvetenant/backend/shared/proxmox"
	"github.com/pvetenant/backend/shared/secrets"
)

// Each request's Parse is the one place it is checked; every refusal is a
// 400 naming the field.

// Parse requires serverId.
func (q *ServerRef) Parse(p httpapi.Params) (err error) {
	q.ServerID, err = p.RequiredUUID("serverId")
	return err
}

// Parse reads a server to register: tenantId, name, host and credentials
// are required; port defaults to 8006 and verifyTls to true.
func (q *CreateServerRequest) Parse(p httpapi.Params) (err error) {
	if q.TenantID, _, err = q.parse(p); err != nil {
		return err
	}
	switch {
	case q.TenantID == "":
		return bad("tenantId is required.")
	case q.ServerFields.Name == "":
		return bad("name is required.")
	case q.ServerFields.Host == "":
		return bad("host is required.")
	case q.credentials() == nil:
		return errCredentialsRequired
	}
	q.Name, q.Host = q.ServerFields.Name, q.ServerFields.Host
	q.defaults()
	return nil
}

// Parse reads an edit: whatever is absent stays as it is.
func (q *UpdateServerRequest) Parse(p httpapi.Params) (err error) {
	if q.ServerID, err = p.RequiredUUID("serverId"); err != nil {
		return err
	}
	var isActive *bool
	if q.moveTo, isActive, err = q.parse(p); err != nil {
		return err
	}
	if isActive != nil {
		q.IsActive, q.isActiveGiven = *isActive, true
	}
	return nil
}

// Parse reads a test of a saved server (serverId, nothing else is read) or
// of unsaved settings (the create fields but name).
func (q *TestServerRequest) Parse(p httpapi.Params) (err error) {
	var byID bool
	if q.ServerID, byID, err = p.OptionalUUID("serverId"); err != nil || byID {
		return err
	}
	if q.TenantID, _, err = q.parse(p); err != nil {
		return err
	}
	switch {
	case q.TenantID == "":
		return bad("Give serverId, or tenantId with the server's fields, to test a connection.")
	case q.Host == "":
		return bad("host is required.")
	case q.credentials() == nil:
		return errCredentialsRequired
	}
	q.defaults()
	return nil
}

// parse reads the fields create, update and test share, in the order they
// have always been checked (which decides the error a request with several
// gets): tenantId and isActive too, for that order.
func (f *ServerFields) parse(p httpapi.Params) (tenantID string, isActive *bool, err error) {
	if tenantID, _, err = p.OptionalUUID("tenantId"); err != nil {
		return "", nil, err
	}
	if f.Name, err = optionalNonEmpty(p, "name", 100); err != nil {
		return "", nil, err
	}
	if f.Host, err = optionalNonEmpty(p, "host", 253); err != nil {
		return "", nil, err
	}
	if f.Host != "" {
		if f.Host, err = validHost(f.Host); err != nil {
			return "", nil, err
		}
	}
	if v, ok, err := p.OptionalInt("port", 1, 65535); err != nil {
		return "", nil, err
	} else if ok {
		f.Port = int(v)
	}
	if f.VerifyTLS, f.given.verifyTLS, err = p.OptionalBool("verifyTls"); err != nil {
		return "", nil, err
	}
	if f.given.fingerprint = p.Has("tlsFingerprint"); f.given.fingerprint {
		v, ok, err := p.OptionalString("tlsFingerprint", 200)
		if err != nil {
			return "", nil, err
		}
		if ok {
			if f.TLSFingerprint, err = normalizeFingerprint(v); err != nil {
				return "", nil, err
			}
		}
	}
	if v, ok, err := p.OptionalBool("isActive"); err != nil {
		return "", nil, err
	} else if ok {
		isActive = &v
	}
	if f.Endpoints, f.given.endpoints, err = parseEndpoints(p); err != nil {
		return "", nil, err
	}
	if f.CAPEM, f.given.caPEM, err = parseCAPEM(p); err != nil {
		return "", nil, err
	}
	c, err := parseCredentials(p)
	if c != nil {
		f.TokenID, f.TokenSecret, f.Username, f.Password = c.TokenID, c.TokenSecret, c.Username, c.Password
	}
	return tenantID, isActive, err
}

// optionalNonEmpty is an optional string that must not be empty when given.
func optionalNonEmpty(p httpapi.Params, name string, max int) (string, error) {
	v, ok, err := p.OptionalString(name, max)
	if err == nil && !ok && p.Has(name) {
		err = bad(name + " must not be empty.")
	}
	return v, err
}

// defaults fills in what create and test assume when it is not given.
func (f *ServerFields) defaults() {
	if f.Port == 0 {
		f.Port = proxmox.DefaultPort
	}
	if !f.given.verifyTLS {
		f.VerifyTLS = true
	}
}

// credentials are the API token or the user login given (parse admits one
// whole pair at most), or nil.
func (f ServerFields) credentials() *secrets.Credentials {
	switch {
	case f.TokenID != "":
		return &secrets.Credentials{TokenID: f.TokenID, TokenSecret: f.TokenSecret}
	case f.Username != "":
		return &secrets.Credentials{Username: f.Username, Password: f.Password}
	}
	return nil
}

// endpoints are the further endpoints given, nil when none were.
func (f ServerFields) endpoints() []proxmox.Endpoint {
	if !f.given.endpoints {
		return nil
	}
	eps := make([]proxmox.Endpoint, len(f.Endpoints))
	for i, e := range f.Endpoints {
		eps[i] = proxmox.Endpoint{Host: e.Host, Port: e.Port, Fingerprint: e.TLSFingerprint}
	}
	return eps
}

// target is the Proxmox server the fields describe (create and test, with
// the defaults filled in).
func (f ServerFields) target() proxmox.Target {
	return proxmox.Target{Host: f.Host, Port: f.Port, VerifyTLS: f.VerifyTLS, Fingerprint: f.TLSFingerprint, ClusterCA: f.CAPEM,
		TokenID: f.TokenID, TokenSecret: f.TokenSecret, Username: f.Username, Password: f.Password}
}

// newServer is the row create registers.
func (q CreateServerRequest) newServer() store.NewServer {
	return store.NewServer{TenantID: q.TenantID, Name: q.Name, Host: q.Host, Port: q.Port, VerifyTLS: q.VerifyTLS,
		TLSFingerprint: q.TLSFingerprint, Endpoints: q.endpoints(), CAPEM: q.CAPEM, Credentials: *q.credentials()}
}

// changes are what the edit sets.
func (q UpdateServerRequest) changes() store.Changes {
	c := store.Changes{Credentials: q.credentials()}
	if q.moveTo != "" {
		c.TenantID = &q.moveTo
	}
	if q.Name != "" {
		c.Name = &q.Name
	}
	if q.Host != "" {
		c.Host = &q.Host
	}
	if q.Port != 0 {
		c.Port = &q.Port
	}
	if q.given.verifyTLS {
		c.VerifyTLS = &q.VerifyTLS
	}
	if q.given.fingerprint {
		c.TLSFingerprint = &q.TLSFingerprint
	}
	if q.isActiveGiven {
		c.IsActive = &q.IsActive
	}
	if q.given.endpoints {
		eps := q.endpoints()
		c.Endpoints = &eps
	}
	if q.given.caPEM {
		c.CAPEM = &q.CAPEM
	}
	return c
}

var fingerprintRe = regexp.MustCompile(`^([0-9A-Fa-f]{2}:){31}[0-9A-Fa-f]{2}$`)

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
