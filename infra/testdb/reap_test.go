package testdb

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pvetenant/backend/infra/pgcluster"
)

// A cluster whose test process died before its teardown is stopped and
// removed by the next Run; one whose owner still runs is left alone.
func TestReapOrphans(t *testing.T) {
	root, err := os.MkdirTemp("", "reap-*") // beside testdb's own clusters; t.TempDir's parent is not searchable by the postgres user
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(root) })
	if err := os.Chmod(root, 0o755); err != nil {
		t.Fatal(err)
	}
	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Fatal(err)
	}
	start := func(name string, owner int) *pgcluster.Cluster {
		c, err := pgcluster.New(filepath.Join(root, name))
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := c.Init(ctx); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(c.Dir, ownerFile), []byte(strconv.Itoa(owner)), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := c.Start(ctx, 0); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = c.Stop() })
		return c
	}
	orphan := start("testdb-orphan", dead.Process.Pid)
	owned := start("testdb-owned", os.Getpid())

	reapOrphans(root)

	up := func(c *pgcluster.Cluster) bool {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, c.URL("postgres"))
		if err != nil {
			return false
		}
		_ = conn.Close(ctx)
		return true
	}
	if up(orphan) {
		t.Error("the orphaned cluster still accepts connections")
	}
	if _, err := os.Stat(orphan.Dir); !os.IsNotExist(err) {
		t.Errorf("the orphaned cluster's folder is still there: %v", err)
	}
	if !up(owned) {
		t.Error("a cluster whose owner runs was stopped")
	}
}
