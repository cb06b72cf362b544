package pvesim

import (
	"crypto/ecdsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sort"
)

// Saved is what a simulator keeps across restarts of a local stack: its
// port, its certificate (pveproxy serves /etc/pve/local/pve-ssl.pem, which a
// restart does not regenerate, so a pinned fingerprint stays valid) and the
// status of each guest. Restarting the simulator stands for restarting the
// API daemon, not the host: Proxmox reads a guest's status from the host's
// processes on every request (qemu-server PVE/QemuServer.pm check_running,
// the VM's pid file; pve-container src/PVE/LXC.pm check_running via
// list_active_containers), so a VM started through the API is still running
// afterwards. Written as JSON; the key is private to a loopback simulator.
type Saved struct {
	Port    int            `json:"port"`
	CertPEM string         `json:"certPem"`
	KeyPEM  string         `json:"keyPem"`
	Guests  map[int]string `json:"guests"` // vmid -> running, stopped, paused
}

// Save captures the simulator's current state (after Start, for the port).
func (s *Sim) Save() (Saved, error) {
	cs := s.cert.Load()
	key, ok := cs.tls.PrivateKey.(*ecdsa.PrivateKey)
	if !ok {
		return Saved{}, errors.New("pvesim: certificate key is not ECDSA")
	}
	der, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return Saved{}, err
	}
	out := Saved{Port: s.Port(), CertPEM: string(cs.pem), Guests: map[int]string{},
		KeyPEM: string(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der}))}
	for _, g := range s.Guests() {
		out.Guests[g.VMID] = g.Status
	}
	return out, nil
}

// Restore applies a saved state before Start: the same certificate and
// guest statuses, and the same port unless it is taken now (then the kernel
// picks one and the caller re-points whatever used the old address).
func (s *Sim) Restore(sv Saved) error {
	if sv.CertPEM != "" {
		pair, err := tls.X509KeyPair([]byte(sv.CertPEM), []byte(sv.KeyPEM))
		if err != nil {
			return fmt.Errorf("pvesim: saved certificate: %w", err)
		}
		leaf, err := x509.ParseCertificate(pair.Certificate[0])
		if err != nil {
			return err
		}
		pair.Leaf = leaf
		s.cert.Store(&certState{tls: pair, leaf: leaf, fingerprint: Fingerprint(leaf.Raw), pem: []byte(sv.CertPEM)})
	}
	ids := make([]int, 0, len(sv.Guests))
	for id := range sv.Guests {
		ids = append(ids, id)
	}
	sort.Ints(ids)
	for _, id := range ids {
		// A guest that no longer exists in the preset is simply dropped.
		_ = s.SetGuestStatus(id, sv.Guests[id])
	}
	if sv.Port > 0 && (s.cfg.Addr == "" || s.cfg.Addr == "127.0.0.1:0") {
		addr := fmt.Sprintf("127.0.0.1:%d", sv.Port)
		if ln, err := net.Listen("tcp", addr); err == nil {
			_ = ln.Close()
			s.cfg.Addr = addr
		}
	}
	return nil
}

// LoadSaved reads a state file; ok is false when there is none (a fresh
// folder gives fresh ports and certificates).
func LoadSaved(path string) (sv Saved, ok bool, err error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return sv, false, nil
	}
	if err != nil {
		return sv, false, err
	}
	if err := json.Unmarshal(b, &sv); err != nil {
		return sv, false, fmt.Errorf("%s: %w", path, err)
	}
	return sv, true, nil
}

// WriteSaved writes a state file atomically (a crash never leaves half a file).
func WriteSaved(path string, sv Saved) error {
	b, err := json.MarshalIndent(sv, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
