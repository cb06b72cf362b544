package localserver_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/pvetenant/backend/infra/localserver"
	"github.com/pvetenant/backend/infra/pgcluster"
)

// Slow clients (headers dribbled, never finished) cannot hold the local
// server: it keeps answering others, and it closes their connections
// itself instead of waiting forever.
func TestSlowClientsAreCutOff(t *testing.T) {
	port, _ := pgcluster.FreePort()
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	started := make(chan struct{})
	go func() {
		_ = localserver.ServeNotify(ctx, addr, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusNoContent)
		}), slog.New(slog.NewTextHandler(io.Discard, nil)), started)
	}()
	<-started

	var slow []net.Conn
	for i := 0; i < 50; i++ {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if _, err := c.Write([]byte("POST /functions/v1/tenants HTTP/1.1\r\nHost: x\r\nX-Slow: ")); err != nil {
			t.Fatal(err)
		}
		slow = append(slow, c)
	}
	res, err := (&http.Client{Timeout: 5 * time.Second}).Get("http://" + addr + "/functions/v1/tenants")
	if err != nil {
		t.Fatalf("a normal client was not served while 50 slow ones hang: %v", err)
	}
	res.Body.Close()
	for i, c := range slow {
		// Our own deadline is far beyond the server's header timeout.
		_ = c.SetReadDeadline(time.Now().Add(30 * time.Second))
		_, err := io.ReadAll(c)
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			t.Fatalf("slow connection %d still open: the server has no header timeout", i)
		}
	}
}
