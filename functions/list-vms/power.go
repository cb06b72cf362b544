package listvms

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/pvetenant/backend/shared/access"
	"github.com/pvetenant/backend/shared/apperr"
	"github.com/pvetenant/backend/shared/db"
	"github.com/pvetenant/backend/shared/httpapi"
	"github.com/pvetenant/backend/shared/proxmox"
	"github.com/pvetenant/backend/shared/targets"
)

// Outcomes of a power action as the audit trail records them (0010).
const (
	outcomeSucceeded = "succeeded" // the task finished OK while we followed it
	outcomeRunning   = "running"   // still running when we stopped following
	outcomeAccepted  = "accepted"  // Proxmox accepted it; its task could not be read
	outcomeFailed    = "failed"    // refused at once, or the task failed
)

// precheck refuses, before anything is sent, an action the guest's row in
// /cluster/resources shows Proxmox would refuse. The state checks mirror
// qemu-server (PVE/API2/Qemu.pm, PVE/QemuServer.pm vm_start/_do_vm_stop)
// and pve-container (PVE/API2/LXC/Status.pm); a lock fails every action in
// both (PVE::AbstractConfig check_lock), except the locks those skip:
// qemu's "suspended" for start (it resumes) and LXC's "mounted" for start
// and stop. A guest whose status is unknown (node down) goes to Proxmox,
// which knows better.
func precheck(g *proxmox.Resource, action string) error {
	if g.Template {
		return apperr.New(apperr.Conflict, "Templates cannot be started, stopped or rebooted.").WithCode("guest_is_template")
	}
	what := "VM"
	if g.Type == "lxc" {
		what = "container"
	}
	if g.Lock != "" && !(g.Type == "qemu" && g.Lock == "suspended" && action == "start") &&
		!(g.Type == "lxc" && g.Lock == "mounted" && (action == "start" || action == "stop")) {
		return apperr.Newf(apperr.Conflict, "This %s is locked (%s) on Proxmox; try again once that operation has finished.", what, g.Lock).WithCode("guest_locked")
	}
	switch g.Status {
	case "running":
		if action == "start" {
			return apperr.Newf(apperr.Conflict, "This %s is already running.", what).WithCode("guest_already_running")
		}
	case "stopped":
		if action != "start" {
			return apperr.Newf(apperr.Conflict, "This %s is not running.", what).WithCode("guest_not_running")
		}
	case "paused", "prelaunch", "suspended":
		// qemu's own run state: the process runs, so start fails ("already
		// running"), and shutdown/reboot are refused ("VM is paused -
		// cannot shutdown"); stop works.
		switch action {
		case "start":
			return apperr.Newf(apperr.Conflict, "This VM is %s (its process is already running): resume it in Proxmox, or stop it.", g.Status).WithCode("guest_already_running")
		case "shutdown", "reboot":
			return apperr.Newf(apperr.Conflict, "This VM is %s and cannot be shut down or rebooted; stop it, or resume it in Proxmox first.", g.Status).WithCode("guest_paused")
		}
	}
	return nil
}

// refusal maps PVE's reason (an immediate refusal's status line, or a
// failed task's exitstatus) to the answer: a state PVE would not change is
// 409 with the matching code, a guest that is gone 404, anything else 502.
func refusal(reason string) *apperr.Error {
	e, _ := knownRefusal(reason)
	return e
}

// knownRefusal is refusal, and whether the reason was one of PVE's state
// messages (else the answer is 502 proxmox_task_failed).
func knownRefusal(reason string) (*apperr.Error, bool) {
	msg := "Proxmox refused: " + strings.TrimRight(reason, ".") + "."
	kind, code := apperr.BadGateway, "proxmox_task_failed"
	switch {
	case strings.Contains(reason, "already running"):
		kind, code = apperr.Conflict, "guest_already_running"
	case strings.Contains(reason, "not running"):
		kind, code = apperr.Conflict, "guest_not_running"
	case strings.Contains(reason, " is locked ("):
		kind, code = apperr.Conflict, "guest_locked"
	case strings.Contains(reason, "is paused"):
		kind, code = apperr.Conflict, "guest_paused"
	case strings.Contains(reason, "template"):
		kind, code = apperr.Conflict, "guest_is_template"
	case strings.Contains(reason, "does not exist"), strings.Contains(reason, "unable to find configuration file"):
		kind, code = apperr.NotFound, "guest_not_found"
	}
	return apperr.New(kind, msg).WithCode(code), kind != apperr.BadGateway
}

// powerOn checks the guest, sends the action, follows its task for up to
// TASK_FOLLOW and records what happened.
func (h *handler) powerOn(ctx context.Context, r *httpapi.Request, tenantID string, s targets.Server, node string, vmid int, typ string) (*httpapi.Response, error) {
	var (
		upid     string
		ts       proxmox.TaskStatus
		read     bool
		refused  string // PVE's reason for an immediate refusal
		redacted string // the task's exitstatus, secrets removed
	)
	// Through any endpoint of the cluster (fanout, issue 14); a refusal
	// seen on an endpoint that then failed over is not this answer's.
	via, err := h.runner.OneVia(ctx, s, func(ctx context.Context, c *proxmox.Client) error {
		refused = ""
		if err := requireQuorum(ctx, c); err != nil {
			return err
		}
		res, err := c.ClusterResources(ctx, "vm")
		if err != nil {
			return err
		}
		var guest *proxmox.Resource
		for i := range res {
			if res[i].IsGuest() && res[i].VMID == vmid {
				guest = &res[i]
				break
			}
		}
		if guest == nil || guest.Node != node || guest.Type != typ {
			return errGuestNotFound
		}
		if err := precheck(guest, r.Action); err != nil {
			return err
		}
		upid, err = c.GuestAction(ctx, node, typ, vmid, r.Action)
		if err != nil {
			refused = proxmox.RefusalReason(err)
			return err
		}
		ts, read = h.follow(ctx, c, node, upid)
		redacted = c.Redact(ts.ExitStatus)
		return nil
	})
	switch {
	case refused != "":
		// Refused before any task (e.g. LXC's "CT 101 already running", a
		// 403 for a token without VM.PowerMgmt): nothing happened.
		h.record(ctx, r, tenantID, s.ID, node, vmid, typ, "", outcomeFailed, refused)
		if e, ok := knownRefusal(refused); ok {
			return nil, e
		}
		return nil, proxmoxError(err) // 502 proxmox_<status>, PVE's reason in the sentence
	case err != nil:
		return nil, proxmoxError(err)
	}
	outcome, body := outcomeAccepted, map[string]any{"upid": upid, "endpoint": via.Endpoint}
	if read {
		body["status"] = ts.Status
		switch {
		case ts.Running():
			outcome = outcomeRunning
		case ts.Succeeded():
			outcome = outcomeSucceeded
			body["exitstatus"] = redacted
		default:
			h.record(ctx, r, tenantID, s.ID, node, vmid, typ, upid, outcomeFailed, redacted)
			return nil, refusal(redacted)
		}
	}
	r.Log.Info("guest action", "server", s.ID, "node", node, "vmid", vmid, "type", typ, "action", r.Action, "outcome", outcome)
	h.record(ctx, r, tenantID, s.ID, node, vmid, typ, upid, outcome, "")
	return httpapi.Accepted(body), nil
}

// follow polls the task until it stops or TASK_FOLLOW (bounded by the
// per-server deadline) runs out. read is false when no status could be read.
func (h *handler) follow(ctx context.Context, c *proxmox.Client, node, upid string) (ts proxmox.TaskStatus, read bool) {
	d := h.d.Config.TaskFollow
	if d <= 0 {
		return ts, false
	}
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	const every = 300 * time.Millisecond
	for {
		st, err := c.TaskStatus(ctx, node, upid)
		if err == nil {
			ts, read = st, true
			if !st.Running() {
				return ts, true
			}
		}
		select {
		case <-ctx.Done():
			return ts, read
		case <-time.After(every):
		}
	}
}

// record writes the action and its outcome into the audit trail (0010), as
// the caller. Proxmox has already answered, so a failure to record is logged
// rather than reported.
func (h *handler) record(ctx context.Context, r *httpapi.Request, tenantID, serverID, node string, vmid int, typ, upid, outcome, exit string) {
	var upidArg, exitArg *string
	if upid != "" {
		upidArg = &upid
	}
	if exit != "" {
		exitArg = &exit
	}
	// One statement, one round trip (db.WriteAsUser).
	if err := db.WriteAsUser(ctx, h.d.Pool, r.DB(), nil, `select private.record_guest_action($1::uuid, $2::uuid, $3::text, $4::integer, $5::text, $6::text, $7::text, $8::text, $9::text)`,
		tenantID, serverID, node, vmid, typ, r.Action, upidArg, outcome, exitArg); err != nil {
		r.Log.Error("guest action not recorded in the audit trail", "server", serverID, "vmid", vmid, "outcome", outcome, "error", err.Error())
	}
}

// taskStatus is the task-status action: a task of one of the tenant's
// servers, for anyone who may see the tenant. The UPID is only ever sent to
// that server, so no other tenant's task can be read.
func (h *handler) taskStatus(ctx context.Context, r *httpapi.Request) (*httpapi.Response, error) {
	p := r.Params
	tenantID, serverID, node, err := onNode(p)
	if err != nil {
		return nil, err
	}
	upid, err := p.RequiredString("upid", 512)
	if err != nil {
		return nil, err
	}
	upidNode, ok := proxmox.ValidUPID(upid)
	if !ok {
		return nil, apperr.New(apperr.Invalid, "upid is not a Proxmox task id (UPID:node:pid:pstart:starttime:type:id:user:).").WithCode("invalid_upid")
	}
	if !strings.EqualFold(upidNode, node) {
		return nil, apperr.New(apperr.Invalid, "upid belongs to another node than node.").WithCode("invalid_upid")
	}
	servers, err := h.loadServers(ctx, r, access.View, targets.Filter{TenantID: tenantID, ServerID: serverID})
	if err != nil {
		return nil, err
	}
	s := servers[0]
	if s.Problem != "" {
		return nil, apperr.New(apperr.BadGateway, "This server cannot be reached: "+s.Problem+".").WithCode(string(s.ProblemStatus))
	}
	var ts proxmox.TaskStatus
	var exit string
	err = h.runner.One(ctx, s, func(ctx context.Context, c *proxmox.Client) error {
		ts, err = c.TaskStatus(ctx, node, upid)
		exit = c.Redact(ts.ExitStatus)
		return err
	})
	if err != nil {
		var pe *proxmox.Error
		// pve-manager answers a task it has no log for with 500 "unable to
		// open file '/var/log/pve/tasks/...' - No such file or directory".
		if errors.As(err, &pe) && pe.HTTPStatus == http.StatusInternalServerError && strings.Contains(pe.Reason, "No such file") {
			return nil, apperr.New(apperr.NotFound, "No such task on this server.").WithCode("task_not_found")
		}
		return nil, proxmoxError(err)
	}
	out := map[string]any{"status": ts.Status, "startedAt": time.Unix(ts.StartTime, 0).UTC().Format(time.RFC3339)}
	if !ts.Running() {
		// PVE's task status (pve-manager PVE/API2/Tasks.pm read_task_status)
		// has no end time, so endedAt is never sent.
		out["exitstatus"] = exit
	}
	return httpapi.OK(out), nil
}
