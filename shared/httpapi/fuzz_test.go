package httpapi

import (
	"net/url"
	"testing"
)

// FuzzParseParams: whatever body and query arrive, parsing answers a value
// or an apperr (never a panic), and every getter does too.
func FuzzParseParams(f *testing.F) {
	f.Add([]byte(`{"tenantId":"aaaaaaaa-0000-4000-8000-000000000001","action":"list"}`), "tenantId=x")
	f.Add([]byte(`{"port":8006.0,"verifyTls":"true","vmid":"100"}`), "")
	f.Add([]byte(`[1,2]`), "a=1&a=2")
	f.Add([]byte(`{"a":{"b":[null]}} {}`), "%zz")
	f.Add([]byte(""), "serverId=%00")
	f.Fuzz(func(t *testing.T, body []byte, rawQuery string) {
		q, _ := url.ParseQuery(rawQuery)
		p, err := parseParams(body, q)
		if err != nil {
			if _, code, msg := publicOf(err); code == "" || msg == "" {
				t.Fatalf("error without code or message: %v", err)
			}
			return
		}
		for _, name := range []string{"tenantId", "serverId", "action", "port", "vmid", "verifyTls", "name", "a"} {
			_, _, _ = p.String(name)
			_, _, _ = p.OptionalUUID(name)
			_, _, _ = p.OptionalInt(name, 1, 65535)
			_, _, _ = p.OptionalBool(name)
			_, _, _ = p.OptionalString(name, 100)
			_, _ = p.OneOf(name, "x", "x", "y")
		}
	})
}

func publicOf(err error) (int, string, string) {
	return apperrPublic(err)
}
