package pvesim

import (
	"fmt"
	"sort"
)

// Credentials shared by the presets. Fixed values so a demo stack and tests
// can hard-code them; they only ever guard a loopback simulator.
const (
	PresetTokenID          = "root@pam!monitor"
	PresetTokenSecret      = "3f1c2b4a-5d6e-4f70-8a9b-0c1d2e3f4a5b"
	PresetReadOnlyTokenID  = "auditor@pve!readonly"
	PresetReadOnlySecret   = "7a6b5c4d-3e2f-4a1b-9c8d-7e6f5a4b3c2d"
	PresetUser             = "root@pam"
	PresetPassword         = "pvesim"
	PresetReadOnlyUser     = "auditor@pve"
	PresetReadOnlyPassword = "auditor"

	// Privilege-separated tokens of root@pam (PVE's default when a token is
	// created in the GUI), with what the ACL grants them: nothing (the
	// common first mistake), PVEAuditor on / (a dashboard), and PVEAuditor
	// on / plus PVEVMUser on /vms (dashboard and power actions).
	PresetNoPrivTokenID   = "root@pam!noprivs"
	PresetNoPrivSecret    = "0b1c2d3e-4f5a-4b6c-8d7e-9f0a1b2c3d4e"
	PresetAuditorTokenID  = "root@pam!dashboard"
	PresetAuditorSecret   = "1c2d3e4f-5a6b-4c7d-9e8f-0a1b2c3d4e5f"
	PresetOperatorTokenID = "root@pam!operator"
	PresetOperatorSecret  = "2d3e4f5a-6b7c-4d8e-af90-1b2c3d4e5f60"
	PresetTFAUser         = "tfa@pve" // a password account with a second factor
	PresetTFAPassword     = "tfa-password"
)

var presets = map[string]func() Config{
	"cluster3":   cluster3,
	"standalone": standalone,
}

// PresetNames lists the built-in presets.
func PresetNames() []string {
	names := make([]string, 0, len(presets))
	for n := range presets {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Preset returns a fresh copy of a built-in topology: "cluster3" or
// "standalone".
func Preset(name string) (Config, error) {
	f, ok := presets[name]
	if !ok {
		return Config{}, fmt.Errorf("pvesim: unknown preset %q (have %v)", name, PresetNames())
	}
	return f(), nil
}

func presetCredentials() ([]Token, []User) {
	return []Token{
			{ID: PresetTokenID, Secret: PresetTokenSecret},
			{ID: PresetReadOnlyTokenID, Secret: PresetReadOnlySecret, ReadOnly: true},
			{ID: PresetNoPrivTokenID, Secret: PresetNoPrivSecret, Privsep: true},
			{ID: PresetAuditorTokenID, Secret: PresetAuditorSecret, Privsep: true},
			{ID: PresetOperatorTokenID, Secret: PresetOperatorSecret, Privsep: true},
		}, []User{
			{ID: PresetUser, Password: PresetPassword},
			{ID: PresetReadOnlyUser, Password: PresetReadOnlyPassword, ReadOnly: true},
			{ID: PresetTFAUser, Password: PresetTFAPassword, TFA: true},
		}
}

func presetACL() []ACL {
	return []ACL{
		{Path: "/", UGID: PresetReadOnlyUser, Role: "PVEAuditor"},
		{Path: "/", UGID: PresetTFAUser, Role: "Administrator"},
		{Path: "/", UGID: PresetAuditorTokenID, Role: "PVEAuditor"},
		{Path: "/", UGID: PresetOperatorTokenID, Role: "PVEAuditor"},
		{Path: "/vms", UGID: PresetOperatorTokenID, Role: "PVEVMUser"},
	}
}

// cluster3: three nodes, 8 VMs (one template, one stopped), 4 containers
// (one stopped, one with cpulimit 1.5), shared ceph-pool plus per-node local
// and local-lvm, pool "prod", SDN zone "localnetwork".
func cluster3() Config {
	tokens, users := presetCredentials()
	return Config{
		ClusterName: "lab",
		Version:     "8.2.4",
		Nodes: []Node{
			{Name: "pve1", Cores: 16, Sockets: 2, Mem: 64 * GiB, HostMem: 3 * GiB, HostCPU: 0.02, Uptime: 1209600, IP: "192.0.2.11"},
			{Name: "pve2", Cores: 16, Sockets: 2, Mem: 64 * GiB, HostMem: 3 * GiB, HostCPU: 0.02, Uptime: 1206000, IP: "192.0.2.12"},
			{Name: "pve3", Cores: 8, Sockets: 1, Mem: 32 * GiB, HostMem: 2 * GiB, HostCPU: 0.015, Uptime: 604800, IP: "192.0.2.13"},
		},
		Guests: []Guest{
			{VMID: 100, Name: "web-01", Type: "qemu", Node: "pve1", Status: "running", MaxCPU: 2, CPU: 0.05,
				Mem: 2 * GiB, MaxMem: 4 * GiB, MaxDisk: 32 * GiB, Uptime: 1209000,
				NetIn: 1200000000, NetOut: 3400000000, DiskRead: 5000000000, DiskWrite: 7000000000,
				Tags: "prod;web", Pool: "prod"},
			{VMID: 101, Name: "web-02", Type: "qemu", Node: "pve2", Status: "running", MaxCPU: 2, CPU: 0.04,
				Mem: 1536 * MiB, MaxMem: 4 * GiB, MaxDisk: 32 * GiB, Uptime: 1205000,
				NetIn: 1100000000, NetOut: 3100000000, DiskRead: 4000000000, DiskWrite: 6000000000,
				Tags: "prod;web", Pool: "prod", HAState: "started"},
			{VMID: 102, Name: "db-01", Type: "qemu", Node: "pve1", Status: "running", MaxCPU: 4, CPU: 0.25,
				Mem: 12 * GiB, MaxMem: 16 * GiB, MaxDisk: 100 * GiB, Uptime: 1209000,
				NetIn: 800000000, NetOut: 900000000, DiskRead: 90000000000, DiskWrite: 120000000000,
				Tags: "db;prod", Pool: "prod"},
			{VMID: 103, Name: "ci-runner", Type: "qemu", Node: "pve3", Status: "running", MaxCPU: 8, CPU: 0.6,
				Mem: 6 * GiB, MaxMem: 8 * GiB, MaxDisk: 64 * GiB, Uptime: 3600,
				NetIn: 2000000000, NetOut: 150000000, DiskRead: 3000000000, DiskWrite: 9000000000,
				Tags: "ci"},
			{VMID: 104, Name: "win-desktop", Type: "qemu", Node: "pve2", Status: "stopped", MaxCPU: 4,
				MaxMem: 8 * GiB, MaxDisk: 80 * GiB, Tags: "desktop"},
			{VMID: 105, Name: "monitoring", Type: "qemu", Node: "pve3", Status: "running", MaxCPU: 2, CPU: 0.1,
				Mem: 3 * GiB, MaxMem: 4 * GiB, MaxDisk: 50 * GiB, Uptime: 604000,
				NetIn: 700000000, NetOut: 400000000, DiskRead: 2000000000, DiskWrite: 30000000000,
				Tags: "ops"},
			{VMID: 106, Name: "staging-app", Type: "qemu", Node: "pve2", Status: "running", MaxCPU: 2, CPU: 0.03,
				Mem: 1 * GiB, MaxMem: 2 * GiB, MaxDisk: 32 * GiB, Uptime: 172800,
				NetIn: 50000000, NetOut: 60000000, DiskRead: 700000000, DiskWrite: 800000000,
				Tags: "staging"},
			{VMID: 9000, Name: "debian12-tmpl", Type: "qemu", Node: "pve1", Status: "stopped", Template: true,
				MaxCPU: 2, MaxMem: 2 * GiB, MaxDisk: 3 * GiB, Tags: "template"},

			{VMID: 200, Name: "dns-01", Type: "lxc", Node: "pve1", Status: "running", MaxCPU: 1, CPU: 0.002,
				Mem: 64 * MiB, MaxMem: 512 * MiB, Disk: 1 * GiB, MaxDisk: 8 * GiB, MaxSwap: 512 * MiB, Uptime: 1209500,
				NetIn: 300000000, NetOut: 280000000, DiskRead: 100000000, DiskWrite: 200000000,
				Tags: "infra"},
			{VMID: 201, Name: "proxy-01", Type: "lxc", Node: "pve2", Status: "running", MaxCPU: 1.5, CPU: 0.01,
				Mem: 256 * MiB, MaxMem: 1 * GiB, Disk: 2 * GiB, MaxDisk: 8 * GiB, MaxSwap: 512 * MiB, Uptime: 1205500,
				NetIn: 5000000000, NetOut: 5200000000, DiskRead: 150000000, DiskWrite: 250000000,
				Tags: "infra;prod", Pool: "prod"},
			{VMID: 202, Name: "backup-agent", Type: "lxc", Node: "pve3", Status: "stopped", MaxCPU: 2,
				MaxMem: 2 * GiB, MaxDisk: 16 * GiB, MaxSwap: 512 * MiB, Tags: "ops"},
			{VMID: 203, Name: "redis-01", Type: "lxc", Node: "pve3", Status: "running", MaxCPU: 2, CPU: 0.03,
				Mem: 768 * MiB, MaxMem: 2 * GiB, Disk: 3 * GiB, MaxDisk: 16 * GiB, MaxSwap: 512 * MiB, Uptime: 604500,
				NetIn: 900000000, NetOut: 1100000000, DiskRead: 400000000, DiskWrite: 2500000000,
				Tags: "prod", Pool: "prod"},
		},
		Storages: []Storage{
			{ID: "local", Type: "dir", Content: "backup,iso,vztmpl", PerNode: map[string]Usage{
				"pve1": {Used: 10 * GiB, Total: 100 * GiB},
				"pve2": {Used: 20 * GiB, Total: 100 * GiB},
				"pve3": {Used: 30 * GiB, Total: 100 * GiB},
			}},
			{ID: "local-lvm", Type: "lvmthin", Content: "images,rootdir", PerNode: map[string]Usage{
				"pve1": {Used: 100 * GiB, Total: 500 * GiB},
				"pve2": {Used: 150 * GiB, Total: 500 * GiB},
				"pve3": {Used: 50 * GiB, Total: 500 * GiB},
			}},
			{ID: "ceph-pool", Type: "rbd", Content: "images,rootdir", Shared: true, Used: 1 * TiB, Total: 4 * TiB},
		},
		Pools:    []Pool{{ID: "prod", Comment: "Production workloads"}},
		SDNZones: []SDNZone{{ID: "localnetwork"}},
		Tokens:   tokens,
		Users:    users,
		ACL:      presetACL(),
	}
}

// standalone: one node "pve" without a cluster, two running guests and one
// stopped VM.
func standalone() Config {
	tokens, users := presetCredentials()
	return Config{
		Version: "8.2.4",
		Nodes: []Node{
			{Name: "pve", Cores: 8, Sockets: 1, Mem: 32 * GiB, HostMem: 2 * GiB, HostCPU: 0.01, Uptime: 432000, IP: "192.0.2.10"},
		},
		Guests: []Guest{
			{VMID: 100, Name: "debian", Type: "qemu", Node: "pve", Status: "running", MaxCPU: 2, CPU: 0.02,
				Mem: 1536 * MiB, MaxMem: 4 * GiB, MaxDisk: 32 * GiB, Uptime: 431000,
				NetIn: 400000000, NetOut: 250000000, DiskRead: 3000000000, DiskWrite: 4000000000},
			{VMID: 101, Name: "nginx", Type: "lxc", Node: "pve", Status: "running", MaxCPU: 1, CPU: 0.005,
				Mem: 128 * MiB, MaxMem: 512 * MiB, Disk: 1200 * MiB, MaxDisk: 8 * GiB, MaxSwap: 512 * MiB, Uptime: 431500,
				NetIn: 600000000, NetOut: 900000000, DiskRead: 50000000, DiskWrite: 80000000, Tags: "web"},
			{VMID: 102, Name: "old-vm", Type: "qemu", Node: "pve", Status: "stopped", MaxCPU: 1,
				MaxMem: 1 * GiB, MaxDisk: 16 * GiB},
		},
		Storages: []Storage{
			{ID: "local", Type: "dir", Content: "backup,iso,vztmpl", Used: 15 * GiB, Total: 100 * GiB},
			{ID: "local-lvm", Type: "lvmthin", Content: "images,rootdir", Used: 40 * GiB, Total: 350 * GiB},
		},
		SDNZones: []SDNZone{{ID: "localnetwork"}},
		Tokens:   tokens,
		Users:    users,
		ACL:      presetACL(),
	}
}
