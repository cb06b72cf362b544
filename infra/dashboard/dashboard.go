// Package dashboard is the local stack's web page: the app's TenantDashboard,
// VMs, servers and TenantUsers, written as plain HTML, CSS and ES modules
// that call the functions with supabase-js functions.invoke exactly as the
// React app does. The files are embedded so the stack binary serves them
// without npm; supabase-js is the UMD build of the version infra/client locks
// (web/vendor), since nothing outside this machine is reachable (no CDN).
package dashboard

import (
	"embed"
	"io/fs"
	"net/http"
)

//go:embed web
var files embed.FS

// Files are the page's files (index.html at the root).
func Files() fs.FS {
	sub, err := fs.Sub(files, "web")
	if err != nil {
		panic(err) // embedded at build time
	}
	return sub
}

// Handler serves the page's files; no-cache so an edited file shows on reload.
func Handler() http.Handler {
	fsrv := http.FileServerFS(Files())
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		w.Header().Set("Cache-Control", "no-cache")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		fsrv.ServeHTTP(w, r)
	})
}
