package httpapi

import (
	"bytes"
	"encoding/json"
	"math"
	"net/url"
	"strconv"
	"strings"

	"github.com/google/uuid"

	"github.com/pvetenant/backend/shared/apperr"
)

// Params are a request's parameters: the JSON body's fields merged with the
// query string (GET and DELETE). A field in the body wins over the same name
// in the query. Getters validate and answer apperr.Invalid with a sentence
// that names the parameter.
type Params struct {
	m map[string]any
}

func parseParams(body []byte, query url.Values) (Params, error) {
	p := Params{m: map[string]any{}}
	for k, v := range query {
		if len(v) > 0 {
			p.m[k] = v[len(v)-1]
		}
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return p, nil
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil || m == nil {
		return p, apperr.New(apperr.Invalid, "The request body must be a JSON object.")
	}
	if dec.More() {
		return p, apperr.New(apperr.Invalid, "The request body must be a single JSON object.")
	}
	for k, v := range m {
		p.m[k] = v
	}
	return p, nil
}

// Has reports whether name was given with a non-null value.
func (p Params) Has(name string) bool {
	v, ok := p.m[name]
	return ok && v != nil
}

func invalid(format string, args ...any) error {
	return apperr.Newf(apperr.Invalid, format, args...)
}

// String returns a string parameter, trimmed; ok is false when absent or empty.
func (p Params) String(name string) (s string, ok bool, err error) {
	v, present := p.m[name]
	if !present || v == nil {
		return "", false, nil
	}
	switch x := v.(type) {
	case string:
		s = strings.TrimSpace(x)
	case json.Number:
		s = x.String()
	default:
		return "", false, invalid("%s must be a string.", name)
	}
	return s, s != "", nil
}

// RequiredString returns a non-empty string of at most max characters.
func (p Params) RequiredString(name string, max int) (string, error) {
	s, ok, err := p.OptionalString(name, max)
	if err != nil {
		return "", err
	}
	if !ok {
		return "", invalid("%s is required.", name)
	}
	return s, nil
}

// OptionalString is RequiredString for an optional parameter.
func (p Params) OptionalString(name string, max int) (string, bool, error) {
	s, ok, err := p.String(name)
	if err != nil || !ok {
		return "", false, err
	}
	if len([]rune(s)) > max {
		return "", false, invalid("%s must be at most %d characters.", name, max)
	}
	if strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return "", false, invalid("%s must not contain control characters.", name)
	}
	return s, true, nil
}

// RequiredUUID returns a UUID parameter in canonical form.
func (p Params) RequiredUUID(name string) (string, error) {
	id, ok, err := p.OptionalUUID(name)
	if err != nil {
		return "", err
	}
	if !ok {
		return "", invalid("%s is required.", name)
	}
	return id, nil
}

// OptionalUUID returns a UUID parameter in canonical form when given.
func (p Params) OptionalUUID(name string) (string, bool, error) {
	s, ok, err := p.String(name)
	if err != nil || !ok {
		if err != nil {
			return "", false, invalid("%s must be a UUID.", name)
		}
		return "", false, nil
	}
	u, err := uuid.Parse(s)
	if err != nil || len(s) != 36 {
		return "", false, invalid("%s must be a UUID.", name)
	}
	return u.String(), true, nil
}

// OptionalInt returns an integer parameter given as a JSON number or a
// decimal string (query parameters are strings), within [min, max].
func (p Params) OptionalInt(name string, min, max int64) (int64, bool, error) {
	v, present := p.m[name]
	if !present || v == nil {
		return 0, false, nil
	}
	var s string
	switch x := v.(type) {
	case json.Number:
		s = x.String()
	case string:
		s = strings.TrimSpace(x)
	default:
		return 0, false, invalid("%s must be a whole number.", name)
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		// 8006.0 is a whole number too.
		f, ferr := strconv.ParseFloat(s, 64)
		if ferr != nil || f != math.Trunc(f) || math.IsInf(f, 0) || f > math.MaxInt64 || f < math.MinInt64 {
			return 0, false, invalid("%s must be a whole number.", name)
		}
		n = int64(f)
	}
	if n < min || n > max {
		return 0, false, invalid("%s must be between %d and %d.", name, min, max)
	}
	return n, true, nil
}

// RequiredInt is OptionalInt for a required parameter.
func (p Params) RequiredInt(name string, min, max int64) (int64, error) {
	n, ok, err := p.OptionalInt(name, min, max)
	if err != nil {
		return 0, err
	}
	if !ok {
		return 0, invalid("%s is required.", name)
	}
	return n, nil
}

// OptionalBool returns a boolean given as JSON true/false or "true"/"false".
func (p Params) OptionalBool(name string) (bool, bool, error) {
	v, present := p.m[name]
	if !present || v == nil {
		return false, false, nil
	}
	switch x := v.(type) {
	case bool:
		return x, true, nil
	case string:
		switch strings.ToLower(strings.TrimSpace(x)) {
		case "true", "1":
			return true, true, nil
		case "false", "0":
			return false, true, nil
		}
	}
	return false, false, invalid("%s must be true or false.", name)
}

// OneOf returns a string parameter that must be one of allowed (or def when absent).
func (p Params) OneOf(name, def string, allowed ...string) (string, error) {
	s, ok, err := p.String(name)
	if err != nil {
		return "", err
	}
	if !ok {
		if def == "" {
			return "", invalid("%s is required: one of %s.", name, strings.Join(allowed, ", "))
		}
		return def, nil
	}
	for _, a := range allowed {
		if s == a {
			return s, nil
		}
	}
	return "", invalid("%s must be one of %s.", name, strings.Join(allowed, ", "))
}
