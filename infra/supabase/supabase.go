// Package supabase holds the local stand-in for what a Supabase database has
// before any project migration runs.
package supabase

import _ "embed"

// StandIn creates the roles, the auth schema and the default grants.
//
//go:embed standin.sql
var StandIn string
