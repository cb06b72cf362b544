package listvms

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/pvetenant/backend/functions/list-vms/store"
	"github.com/pvetenant/backend/shared/apperr"
	"github.com/pvetenant/backend/shared/httpapi"
	"github.com/pvetenant/backend/shared/proxmox"
	"github.com/pvetenant/backend/shared/targets"
)

// limited counts a power action against the caller's fleet-wide limit
// (issue 17/18) before anything else, its parameters included: every
// attempt counts, and nothing reaches Proxmox past the limit.
func (h *handler) limited(op httpapi.Operation) httpapi.Operation {
	next := op.Handle
	op.Handle = func(ctx context.Context, r *httpapi.Request) (*httpapi.Response, error) {
		if err := h.store.CountPowerAction(ctx, r.DB()); err != nil {
			return nil, err
		}
		return next(ctx, r)
	}
	return op
}

// power starts, stops, shuts down or reboots one guest (r.Action). The guest
// must really be on that server and node, with that type, and in a state
// Proxmox would act on; only then is the action sent (see powerOn).
func (h *handler) power(ctx context.Context, r *httpapi.Request, q PowerRequest) (PowerAnswer, error) {
	s, err := oneServer(h.store.Controllable(ctx, r.DB(), targets.Filter{TenantID: q.TenantID, ServerID: q.ServerID}))
	if err != nil {
		return PowerAnswer{}, err
	}
	// The guest's row decides first; then Proxmox, whose task is followed
	// briefly, and the audit trail records what happened.
	return h.powerOn(ctx, r, q, s)
}

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
		return guestIsTemplate.say("Templates cannot be started, stopped or rebooted.")
	}
	what := "VM"
	if g.Type == "lxc" {
		what = "container"
	}
	if g.Lock != "" && !(g.Type == "qemu" && g.Lock == "suspended" && action == "start") &&
		!(g.Type == "lxc" && g.Lock == "mounted" && (action == "start" || action == "stop")) {
		return guestLocked.sayf("This %s is locked (%s) on Proxmox; try again once that operation has finished.", what, g.Lock)
	}
	switch g.Status {
	case "running":
		if action == "start" {
			return alreadyRunning.sayf("This %s is already running.", what)
		}
	case "stopped":
		if action != "start" {
			return notRunning.sayf("This %s is not running.", what)
		}
	case "paused", "prelaunch", "suspended":
		// qemu's own run state: the process runs, so start fails ("already
		// running"), and shutdown/reboot are refused ("VM is paused -
		// cannot shutdown"); stop works.
		switch action {
		case "start":
			return alreadyRunning.sayf("This VM is %s (its process is already running): resume it in Proxmox, or stop it.", g.Status)
		case "shutdown", "reboot":
			return guestPaused.sayf("This VM is %s and cannot be shut down or rebooted; stop it, or resume it in Proxmox first.", g.Status)
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
	f := taskFailed
	switch {
	case strings.Contains(reason, "already running"):
		f = alreadyRunning
	case strings.Contains(reason, "not running"):
		f = notRunning
	case strings.Contains(reason, " is locked ("):
		f = guestLocked
	case strings.Contains(reason, "is paused"):
		f = guestPaused
	case strings.Contains(reason, "template"):
		f = guestIsTemplate
	case strings.Contains(reason, "does not exist"), strings.Contains(reason, "unable to find configuration file"):
		f = guestNotFound
	}
	return f.say(msg), f != taskFailed
}

// powerOn checks the guest, sends the action, follows its task for up to
// TASK_FOLLOW and records what happened.
func (h *handler) powerOn(ctx context.Context, r *httpapi.Request, q PowerRequest, s targets.Server) (PowerAnswer, error) {
	var (
		upid     string
		ts       proxmox.TaskStatus
		read     bool
		refused  string // PVE's reason for an immediate refusal
		redacted string // the task's exitstatus, secrets removed
	)
	act := store.GuestAction{TenantID: q.TenantID, ServerID: s.ID, Node: q.Node, VMID: q.VMID, Type: q.Type, Action: r.Action}
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
			if res[i].IsGuest() && res[i].VMID == q.VMID {
				guest = &res[i]
				break
			}
		}
		if guest == nil || guest.Node != q.Node || guest.Type != q.Type {
			return errGuestNotFound
		}
		if err := precheck(guest, r.Action); err != nil {
			return err
		}
		upid, err = c.GuestAction(ctx, q.Node, q.Type, q.VMID, r.Action)
		if err != nil {
			refused = proxmox.RefusalReason(err)
			return err
		}
		ts, read = h.follow(ctx, c, q.Node, upid)
		redacted = c.Redact(ts.ExitStatus)
		return nil
	})
	switch {
	case refused != "":
		// Refused before any task (e.g. LXC's "CT 101 already running", a
		// 403 for a token without VM.PowerMgmt): nothing happened.
		act.Outcome, act.ExitStatus = store.Failed, refused
		h.record(ctx, r, act)
		if e, ok := knownRefusal(refused); ok {
			return PowerAnswer{}, e
		}
		return PowerAnswer{}, proxmoxError(err) // 502 proxmox_<status>, PVE's reason in the sentence
	case err != nil:
		return PowerAnswer{}, proxmoxError(err)
	}
	act.UPID, act.Outcome = upid, store.Accepted
	ans := PowerAnswer{UPID: upid, Endpoint: via.Endpoint}
	if read {
		ans.Status = ts.Status
		switch {
		case ts.Running():
			act.Outcome = store.Running
		case ts.Succeeded():
			act.Outcome = store.Succeeded
			ans.ExitStatus = redacted
		default:
			act.Outcome, act.ExitStatus = store.Failed, redacted
			h.record(ctx, r, act)
			return PowerAnswer{}, refusal(redacted)
		}
	}
	r.Log.Info("guest action", "server", s.ID, "node", q.Node, "vmid", q.VMID, "type", q.Type, "action", r.Action, "outcome", string(act.Outcome))
	h.record(ctx, r, act)
	return ans, nil
}

// follow polls the task until it stops or TASK_FOLLOW (bounded by the
// per-server deadline) runs out. read is false when no status could be read.
func (h *handler) follow(ctx context.Context, c *proxmox.Client, node, upid string) (ts proxmox.TaskStatus, read bool) {
	if h.taskFollow <= 0 {
		return ts, false
	}
	ctx, cancel := context.WithTimeout(ctx, h.taskFollow)
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
func (h *handler) record(ctx context.Context, r *httpapi.Request, a store.GuestAction) {
	if err := h.store.Record(ctx, r.DB(), a); err != nil {
		r.Log.Error("guest action not recorded in the audit trail", "server", a.ServerID, "vmid", a.VMID, "outcome", string(a.Outcome), "error", err.Error())
	}
}

// taskStatus is the task-status action: a task of one of the tenant's
// servers, for anyone who may see the tenant. The UPID is only ever sent to
// that server, so no other tenant's task can be read.
func (h *handler) taskStatus(ctx context.Context, r *httpapi.Request, q TaskStatusRequest) (TaskStatusAnswer, error) {
	s, err := oneServer(h.store.Visible(ctx, r.DB(), targets.Filter{TenantID: q.TenantID, ServerID: q.ServerID}))
	if err != nil {
		return TaskStatusAnswer{}, err
	}
	var ts proxmox.TaskStatus
	var exit string
	err = h.runner.One(ctx, s, func(ctx context.Context, c *proxmox.Client) error {
		st, err := c.TaskStatus(ctx, q.Node, q.UPID)
		ts, exit = st, c.Redact(st.ExitStatus)
		return err
	})
	if err != nil {
		var pe *proxmox.Error
		// pve-manager answers a task it has no log for with 500 "unable to
		// open file '/var/log/pve/tasks/...' - No such file or directory".
		if errors.As(err, &pe) && pe.HTTPStatus == http.StatusInternalServerError && strings.Contains(pe.Reason, "No such file") {
			return TaskStatusAnswer{}, errTaskNotFound
		}
		return TaskStatusAnswer{}, proxmoxError(err)
	}
	ans := TaskStatusAnswer{Status: ts.Status, StartedAt: time.Unix(ts.StartTime, 0).UTC().Format(time.RFC3339)}
	if !ts.Running() {
		// PVE's task status (pve-manager PVE/API2/Tasks.pm read_task_status)
		// has no end time, so endedAt is never sent.
		ans.ExitStatus = exit
	}
	return ans, nil
}
