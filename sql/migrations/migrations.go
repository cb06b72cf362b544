// Package migrations embeds the SQL migrations so tests and the local stack
// apply exactly the files that ship, in lexical order.
//
// Every runner applies each file in one transaction (infra/migrate for
// production and the local stack, infra/testdb for tests), so a file must not
// manage transactions itself nor hold a statement that cannot run inside one
// (infra/migrate TestNoFileControlsItsTransaction).
package migrations

import (
	"embed"
	"io/fs"
	"sort"
)

//go:embed *.sql
var files embed.FS

// Migration is one file of sql/migrations.
type Migration struct {
	Name string // e.g. 0001_legacy_schema.sql
	SQL  string
}

// All returns every migration in the order they are applied.
func All() []Migration {
	out, err := From(files)
	if err != nil {
		panic(err) // embedded at build time, the pattern is constant
	}
	return out
}

// From reads the *.sql files at the root of fsys in the order they are
// applied: the embedded files (All), or a folder in a test.
func From(fsys fs.FS) ([]Migration, error) {
	names, err := fs.Glob(fsys, "*.sql")
	if err != nil {
		return nil, err
	}
	sort.Strings(names)
	out := make([]Migration, 0, len(names))
	for _, n := range names {
		b, err := fs.ReadFile(fsys, n)
		if err != nil {
			return nil, err
		}
		out = append(out, Migration{Name: n, SQL: string(b)})
	}
	return out, nil
}
