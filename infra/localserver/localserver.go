// Package localserver mounts every function under /functions/v1/<name>, the
// way Supabase's edge runtime does, so the app's supabase.functions.invoke
// works against a local address.
package localserver

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	listvms "github.com/pvetenant/backend/functions/list-vms"
	proxmoxservers "github.com/pvetenant/backend/functions/proxmox-servers"
	tenantstats "github.com/pvetenant/backend/functions/tenant-stats"
	"github.com/pvetenant/backend/functions/tenants"
	"github.com/pvetenant/backend/shared/httpapi"
	"github.com/pvetenant/backend/shared/runtime"
)

// Function is one mountable function.
type Function struct {
	Name  string
	Needs runtime.Needs
	New   func(*runtime.Deps) http.Handler
}

// Functions lists every function of the project.
var Functions = []Function{
	{proxmoxservers.Name, proxmoxservers.Needs, proxmoxservers.New},
	{listvms.Name, listvms.Needs, listvms.New},
	{tenants.Name, tenants.Needs, tenants.New},
	{tenantstats.Name, tenantstats.Needs, tenantstats.New},
}

// Merge returns what all functions need together.
func Merge() runtime.Needs {
	var n runtime.Needs
	for _, f := range Functions {
		n.Database = n.Database || f.Needs.Database
		n.Credentials = n.Credentials || f.Needs.Credentials
		n.ServiceRole = n.ServiceRole || f.Needs.ServiceRole
	}
	return n
}

// Handler serves /functions/v1/<name> and anything below it (the contract
// ignores the rest of the path).
func Handler(d *runtime.Deps) http.Handler {
	handlers := map[string]http.Handler{}
	for _, f := range Functions {
		handlers[f.Name] = f.New(d)
	}
	notFound := d.Server.Handler(httpapi.Function{Name: "unknown"})
	health := Health(d.Pool, functionNames())
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rest, ok := strings.CutPrefix(r.URL.Path, "/functions/v1/")
		name, _, _ := strings.Cut(rest, "/")
		if (r.URL.Path == "/health" || (ok && rest == "")) && (r.Method == http.MethodGet || r.Method == http.MethodHead) {
			health.ServeHTTP(w, r)
			return
		}
		if h, found := handlers[name]; ok && found {
			h.ServeHTTP(w, r)
			return
		}
		if r.Method == http.MethodOptions {
			notFound.ServeHTTP(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.Header().Set("Access-Control-Allow-Origin", "*")
		w.WriteHeader(http.StatusNotFound)
		_, _ = w.Write([]byte(`{"error":"No such function. Functions live at /functions/v1/<name>.","code":"function_not_found"}`))
	})
}

// Serve runs h on addr until ctx ends, with timeouts that keep slow clients
// from holding connections, then drains in-flight requests.
func Serve(ctx context.Context, addr string, h http.Handler, logger *slog.Logger) error {
	return ServeNotify(ctx, addr, h, logger, nil)
}

// ServeNotify is Serve, closing started (when not nil) once it listens.
func ServeNotify(ctx context.Context, addr string, h http.Handler, logger *slog.Logger, started chan<- struct{}) error {
	srv := &http.Server{
		Addr:              addr,
		Handler:           h,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       15 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	logger.Info("serving functions", "url", "http://"+ln.Addr().String()+"/functions/v1/")
	if started != nil {
		close(started)
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return srv.Shutdown(shutdown)
}
