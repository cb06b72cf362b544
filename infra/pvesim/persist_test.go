package pvesim

import (
	"fmt"
	"net"
	"path/filepath"
	"testing"
	"time"
)

// A saved simulator comes back with the same port, certificate and guest
// statuses; without a saved state it gets fresh ones.
func TestSaveRestore(t *testing.T) {
	a := NewTestSim(t, MustPreset("standalone"))
	if err := a.SetGuestStatus(102, "running"); err != nil {
		t.Fatal(err)
	}
	sv, err := a.Save()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "pvesim", "edge.json")
	if err := WriteSaved(path, sv); err != nil {
		t.Fatal(err)
	}
	port, fp := a.Port(), a.Fingerprint()
	a.Close()
	// http.Server.Close may leave the listener to the Serve goroutine to
	// close; wait until the port is really free, as it is for a stack that
	// ran a while.
	for i := 0; i < 100; i++ {
		ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err == nil {
			ln.Close()
			break
		}
		time.Sleep(20 * time.Millisecond)
	}

	loaded, ok, err := LoadSaved(path)
	if err != nil || !ok {
		t.Fatalf("load: %v %v", ok, err)
	}
	b, err := New(MustPreset("standalone"))
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Restore(loaded); err != nil {
		t.Fatal(err)
	}
	if err := b.Start(); err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if b.Port() != port || b.Fingerprint() != fp {
		t.Fatalf("restored %d %s, saved %d %s", b.Port(), b.Fingerprint(), port, fp)
	}
	// The certificate really serves: a client pinned to the saved pool connects.
	res, err := b.Client().Get(b.APIURL() + "/version")
	if err != nil {
		t.Fatalf("TLS with the restored certificate: %v", err)
	}
	res.Body.Close()
	if g, _ := b.Guest("pve", 102); g.Status != "running" {
		t.Fatalf("guest 102 is %s after restore", g.Status)
	}

	if _, ok, err := LoadSaved(filepath.Join(t.TempDir(), "none.json")); ok || err != nil {
		t.Fatalf("missing file: %v %v", ok, err)
	}
	c := NewTestSim(t, MustPreset("standalone"))
	if c.Fingerprint() == fp {
		t.Fatal("a fresh simulator reused the saved certificate")
	}
}
