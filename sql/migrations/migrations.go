// Package migrations embeds the SQL migrations so tests and the local stack
// apply exactly the files that ship, in lexical order.
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
	names, err := fs.Glob(files, "*.sql")
	if err != nil {
		panic(err) // the pattern is constant
	}
	sort.Strings(names)
	out := make([]Migration, 0, len(names))
	for _, n := range names {
		b, err := files.ReadFile(n)
		if err != nil {
			panic(err) // embedded at build time
		}
		out = append(out, Migration{Name: n, SQL: string(b)})
	}
	return out
}
