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

	"github.com/pvetenant/backend/functions/catalog"
	"github.com/pvetenant/backend/shared/httpapi"
	"github.com/pvetenant/backend/shared/setup"
)

// Handler serves /functions/v1/<name> and anything below it (the contract
// ignores the rest of the path).
func Handler(d *setup.Deps) http.Handler {
	handlers := map[string]http.Handler{}
	for _, f := range catalog.Functions {
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
