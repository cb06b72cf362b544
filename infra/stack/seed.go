package stack

import (
	"context"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/pvetenant/backend/infra/pvesim"
	"github.com/pvetenant/backend/shared/secrets"
)

// DemoUser is one seeded account.
type DemoUser struct {
	ID, Email, Name, Role string // Role describes them for the banner
}

// The demo world: a system admin; "ACME Corp" with an admin, a manager and a
// viewer; "Globex" with its own admin and server, to show isolation.
var (
	demoUsers = []DemoUser{
		{"5a5a0000-0000-4000-8000-000000000001", "root@example.com", "Sam Sysadmin", "system admin"},
		{"a1a10000-0000-4000-8000-000000000001", "alice@acme.test", "Alice Admin", "admin of ACME Corp"},
		{"a1a10000-0000-4000-8000-000000000002", "mona@acme.test", "Mona Manager", "manager of ACME Corp"},
		{"a1a10000-0000-4000-8000-000000000003", "victor@acme.test", "Victor Viewer", "viewer of ACME Corp"},
		{"b0b00000-0000-4000-8000-000000000001", "bob@globex.test", "Bob Globex", "admin of Globex"},
	}
	demoTenants = []struct{ id, name, slug string }{
		{"acac0000-0000-4000-8000-0000000000ac", "ACME Corp", "acme"},
		{"9b9b0000-0000-4000-8000-0000000910be", "Globex", "globex"},
	}
	demoMembers = []struct{ user, tenant, role string }{
		{"alice@acme.test", "ACME Corp", "admin"}, {"mona@acme.test", "ACME Corp", "manager"},
		{"victor@acme.test", "ACME Corp", "viewer"}, {"bob@globex.test", "Globex", "admin"},
	}
	demoServers = []struct {
		id, name, tenant, preset string
		password                 bool
	}{
		{"5e5e0000-0000-4000-8000-0000000c1a53", "pve-cluster", "ACME Corp", "cluster3", false},
		{"5e5e0000-0000-4000-8000-0000000ed9e0", "pve-edge", "ACME Corp", "standalone", true},
		{"5e5e0000-0000-4000-8000-00000910be01", "globex-pve", "Globex", "standalone", false},
	}
)

// seed writes the demo world, idempotently: users, roles and memberships are
// created once (later edits are kept); servers are re-pointed at this run's
// simulators (new ports, new certificates) and their credentials resealed.
func seed(ctx context.Context, url string, kr *secrets.Keyring, sims map[string]*pvesim.Sim, st *Stack) error {
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	return pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
		st.Users = demoUsers
		st.TenantIDs = map[string]string{}
		st.ServerIDs = map[string]string{}
		byEmail := map[string]string{}
		for _, u := range demoUsers {
			byEmail[u.Email] = u.ID
			if _, err := tx.Exec(ctx, `insert into auth.users (id, email, raw_user_meta_data)
				values ($1, $2, jsonb_build_object('full_name', $3::text)) on conflict (id) do nothing`, u.ID, u.Email, u.Name); err != nil {
				return err
			}
		}
		if _, err := tx.Exec(ctx, `insert into public.user_roles (user_id, role) values ($1, 'admin') on conflict do nothing`, demoUsers[0].ID); err != nil {
			return err
		}
		for _, t := range demoTenants {
			st.TenantIDs[t.name] = t.id
			if _, err := tx.Exec(ctx, `insert into public.tenants (id, name, slug) values ($1, $2, $3) on conflict (id) do nothing`, t.id, t.name, t.slug); err != nil {
				return err
			}
		}
		for _, m := range demoMembers {
			if _, err := tx.Exec(ctx, `insert into public.user_tenant_assignments (user_id, tenant_id, role)
				values ($1, $2, $3) on conflict (user_id, tenant_id) do nothing`, byEmail[m.user], st.TenantIDs[m.tenant], m.role); err != nil {
				return err
			}
		}
		for _, s := range demoServers {
			sim := sims[s.name]
			st.ServerIDs[s.name] = s.id
			if _, err := tx.Exec(ctx, `insert into public.proxmox_servers (id, tenant_id, user_id, name, host, port, verify_ssl, tls_fingerprint)
				values ($1, $2, null, $3, '127.0.0.1', $4, false, $5)
				on conflict (id) do update set host = excluded.host, port = excluded.port, tls_fingerprint = excluded.tls_fingerprint`,
				s.id, st.TenantIDs[s.tenant], s.name, sim.Port(), sim.Fingerprint()); err != nil {
				return err
			}
			c := secrets.Credentials{TokenID: pvesim.PresetTokenID, TokenSecret: pvesim.PresetTokenSecret}
			if s.password {
				c = secrets.Credentials{Username: pvesim.PresetUser, Password: pvesim.PresetPassword}
			}
			keyID, sealed, err := kr.SealCredentials(s.id, c)
			if err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `insert into private.proxmox_server_credentials (server_id, auth_type, key_id, sealed)
				values ($1, $2, $3, $4)
				on conflict (server_id) do update set auth_type = excluded.auth_type, key_id = excluded.key_id, sealed = excluded.sealed, legacy_plaintext = null`,
				s.id, c.AuthType(), keyID, sealed); err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `update public.proxmox_servers set auth_type = $2, credentials_version = credentials_version + 1 where id = $1`, s.id, c.AuthType()); err != nil {
				return err
			}
		}
		return nil
	})
}

// examples are curl commands that work against the running stack, as
// printed, in a shell that sourced stack.env (the variables keep each line
// short and let tokens be refreshed without editing the commands).
func examples(st *Stack) []string {
	h := func(tok string) string {
		return fmt.Sprintf(`-H "Authorization: Bearer $%s" -H "apikey: $ANON_KEY" -H "Content-Type: application/json"`, tok)
	}
	power := func(action, tok string) string {
		return fmt.Sprintf(`curl -s "$FUNCTIONS_URL/list-vms" %s -d "{\"action\":\"%s\",\"tenantId\":\"$ACME_TENANT_ID\",\"serverId\":\"$PVE_CLUSTER_SERVER_ID\",\"node\":\"pve2\",\"vmid\":104,\"type\":\"qemu\"}"`, h(tok), action)
	}
	return []string{
		`curl -s "$FUNCTIONS_URL/tenant-stats" ` + h("TOKEN_VICTOR") + ` -d "{\"action\":\"get-live-stats\",\"tenantId\":\"$ACME_TENANT_ID\"}"`,
		`curl -s "$FUNCTIONS_URL/proxmox-servers?tenantId=$ACME_TENANT_ID" ` + h("TOKEN_VICTOR"),
		`curl -s "$FUNCTIONS_URL/list-vms" ` + h("TOKEN_VICTOR") + ` -d "{\"tenantId\":\"$ACME_TENANT_ID\",\"type\":\"lxc\"}"`,
		`curl -s "$FUNCTIONS_URL/tenants" ` + h("TOKEN_MONA") + ` -d "{\"action\":\"my-permissions\",\"tenantId\":\"$ACME_TENANT_ID\"}"`,
		power("start", "TOKEN_MONA"),
		power("stop", "TOKEN_VICTOR"),
	}
}

func banner(w io.Writer, st *Stack, sims map[string]*pvesim.Sim) {
	base := strings.TrimSuffix(st.URL, "/functions/v1/")
	fmt.Fprintf(w, "\nThe local stack is up.\n\n  dashboard  %s/  (pick a demo user at the top right)\n  health     %s/health\n  functions  %s{proxmox-servers,list-vms,tenants,tenant-stats}\n  database   %s\n", base, base, st.URL, st.DBURL)
	names := make([]string, 0, len(sims))
	for n := range sims {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  proxmox    %-12s %s (Proxmox VE simulator, fingerprint %s)\n", n, sims[n].URL(), sims[n].Fingerprint())
	}
	fmt.Fprintf(w, "\nTenants: ACME Corp %s, Globex %s\n", st.TenantIDs["ACME Corp"], st.TenantIDs["Globex"])
	fmt.Fprintf(w, "\nDemo users (token variables in %s, valid 24 h; a fresh one: go run ./infra/cmd/token <email>):\n", st.EnvFile)
	for _, u := range st.Users {
		fmt.Fprintf(w, "  %-18s %-22s $TOKEN_%s\n", u.Email, u.Role, envName(u.Email))
	}
	fmt.Fprintf(w, "\nSimulator addresses, fingerprints and credentials are in %s too.\n", st.EnvFile)
	fmt.Fprintf(w, "\nTry, in a shell (the fifth starts a VM as the manager, the sixth is refused with 403 for the viewer):\n\n. %s\n\n", st.EnvFile)
	for _, e := range st.Examples {
		fmt.Fprintf(w, "%s\n\n", e)
	}
	fmt.Fprintf(w, "From Node or the app (supabase-js): see README, \"Issue 16\".\n\nCtrl-C, or kill -INT/-TERM %d, stops everything.\n", os.Getpid())
}
