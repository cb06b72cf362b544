package tenants_test

import (
	"testing"

	"github.com/pvetenant/backend/infra/functest"
)

// Each request is checked in its Parse, before any database work: a bad one
// is 400 with the sentence that names what to fix.
func TestBadRequestsSayWhatToFix(t *testing.T) {
	e := newEnv(t)
	a := functest.TenantA
	cases := []struct {
		action string
		params obj
		says   string
	}{
		{"create", nil, "name is required."},
		{"create", obj{"name": " "}, "name must not be empty."},
		{"create", obj{"name": "X", "slug": "Not A Slug"}, "slug may hold only lowercase letters, digits and single hyphens between them (e.g. acme-corp)."},
		{"create", obj{"name": "X", "adminUserId": "bob"}, "adminUserId must be a UUID."},
		{"update", obj{"name": "x"}, "tenantId is required."},
		{"update", obj{"tenantId": a}, "Nothing to update: give name, slug or description."},
		{"update", obj{"tenantId": a, "name": nil, "slug": nil}, "Nothing to update: give name, slug or description."},
		{"assign-user", obj{"tenantId": a, "userId": functest.AdminB, "email": "bob@globex.test", "role": "viewer"}, "Give userId or email, not both."},
		{"assign-user", obj{"tenantId": a, "role": "viewer"}, "userId or email is required."},
		{"assign-user", obj{"tenantId": a, "email": "Bob <bob@globex.test>", "role": "viewer"}, "email must be an email address such as name@example.com."},
		{"assign-user", obj{"tenantId": a, "userId": functest.AdminB}, "role is required: one of admin, manager, viewer."},
		{"update-user-role", obj{"tenantId": a, "role": "viewer"}, "userId is required."},
		{"update-user-role", obj{"tenantId": a, "userId": functest.ViewerA, "role": "boss"}, "role must be one of admin, manager, viewer."},
		{"remove-user", obj{"tenantId": a}, "userId is required."},
		{"lookup-users", obj{"tenantId": a, "query": "ab"}, "query must be at least 3 characters long."},
		{"list-audit", obj{"tenantId": a, "limit": 201}, "limit must be between 1 and 200."},
		{"list-audit", obj{"tenantId": a, "beforeId": 0}, "beforeId must be between 1 and 4611686018427387904."},
	}
	for _, c := range cases {
		t.Run(c.action+"/"+c.says, func(t *testing.T) {
			res := functest.Expect(t, call(e, functest.AdminA, c.action, c.params), 400)
			if res.Code() != "invalid_request" || res.Body["error"] != c.says {
				t.Fatalf("want %q: %s", c.says, res.Raw)
			}
		})
	}
}

// An empty slug clears it, as an empty description does; a field left out
// stays as it was.
func TestUpdateClearsOnlyWhatIsGiven(t *testing.T) {
	e := newEnv(t)
	update := func(params obj) map[string]any {
		params["tenantId"] = functest.TenantA
		return field(t, functest.Expect(t, call(e, functest.AdminA, "update", params), 200), "tenant")
	}
	update(obj{"slug": "acme", "description": "Rockets"})
	if tn := update(obj{"slug": ""}); tn["slug"] != nil || tn["description"] != "Rockets" || tn["name"] != "ACME Corp" {
		t.Fatalf("after clearing the slug: %v", tn)
	}
	if tn := update(obj{"name": "ACME Inc", "slug": nil}); tn["slug"] != nil || tn["description"] != "Rockets" || tn["name"] != "ACME Inc" {
		t.Fatalf("after a rename: %v", tn)
	}
}
