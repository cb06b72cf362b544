// Package pvesim is a Proxmox VE API simulator for tests and local demos.
//
// It serves the pveproxy HTTPS API (/api2/json/..., every answer wrapped in
// {"data": ...}) on a loopback address with a freshly generated self-signed
// ECDSA certificate, imitating the response shapes of PVE 7, 8 and 9:
//
//	GET  /version, /cluster/resources[?type=vm|storage|node|sdn],
//	     /cluster/status, /cluster/nextid, /cluster/tasks, /nodes, /storage,
//	     /pools, /access/domains
//	GET  /nodes/{node}/status|version|qemu|lxc|storage|tasks
//	GET  /nodes/{node}/{qemu|lxc}/{vmid}/status/current
//	POST /nodes/{node}/qemu/{vmid}/status/{start|stop|shutdown|reboot|reset|suspend|resume}
//	POST /nodes/{node}/lxc/{vmid}/status/{start|stop|shutdown|reboot}
//	GET  /nodes/{node}/tasks/{upid}/status|log
//	POST /access/ticket (form: username, password[, realm])
//
// Authentication is an API token header
// ("Authorization: PVEAPIToken=user@realm!id=secret") or a PVEAuthCookie
// ticket, with a CSRFPreventionToken header required on writes. Errors
// carry pveproxy's status line ("500 Configuration file ... does not
// exist") and body ({"data":null,"message":"...\n"}); unknown paths answer
// 501 "Method 'GET /foo' not implemented".
//
// Faults (latency, hang, 401, 5xx, 595/596, malformed JSON), certificate
// rotation, nodes going offline and per-path request counters make client
// error handling testable. Generated values are deterministic: usage numbers
// come from the Config (see Node for the node cpu/mem formula), UPIDs from a
// counter and the Config.Clock.
package pvesim
