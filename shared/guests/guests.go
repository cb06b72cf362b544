// Package guests is the contract's VM shape: a Proxmox VM or container as the
// app sees it, with the server it runs on. list-vms lists them and
// tenant-stats' get-resource-usage returns them; both build them here.
package guests

import "github.com/pvetenant/backend/shared/proxmox"

// VM is one guest: {serverId, serverName, node, vmid, name, type, status,
// template, cpu, maxcpu, mem, maxmem, disk, maxdisk, uptime, tags}.
type VM struct {
	ServerID   string   `json:"serverId"`
	ServerName string   `json:"serverName"`
	Node       string   `json:"node"`
	VMID       int      `json:"vmid"`
	Name       string   `json:"name"`
	Type       string   `json:"type"` // qemu or lxc
	Status     string   `json:"status"`
	Template   bool     `json:"template"`
	CPU        float64  `json:"cpu"`
	MaxCPU     float64  `json:"maxcpu"`
	Mem        int64    `json:"mem"`
	MaxMem     int64    `json:"maxmem"`
	Disk       int64    `json:"disk"`
	MaxDisk    int64    `json:"maxdisk"`
	Uptime     int64    `json:"uptime"`
	Tags       []string `json:"tags"` // Proxmox's ';'-separated string, split; never null
}

// FromResource shapes a /cluster/resources guest entry of a server.
func FromResource(serverID, serverName string, r proxmox.Resource) VM {
	tags := r.TagList()
	if tags == nil {
		tags = []string{}
	}
	return VM{ServerID: serverID, ServerName: serverName, Node: r.Node, VMID: r.VMID, Name: r.Name, Type: r.Type,
		Status: r.Status, Template: r.Template, CPU: NonNegative(r.CPU), MaxCPU: r.MaxCPU, Mem: NonNegative(r.Mem), MaxMem: r.MaxMem,
		Disk: NonNegative(r.Disk), MaxDisk: r.MaxDisk, Uptime: r.Uptime, Tags: tags}
}
