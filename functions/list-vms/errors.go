package listvms

import (
	"errors"

	"github.com/pvetenant/backend/shared/apperr"
	"github.com/pvetenant/backend/shared/proxmox"
	"github.com/pvetenant/backend/shared/targets"
)

// Every code list-vms coins is coined here (the shared ones, such as
// tenant_not_found or rate_limited, come from their packages), each with its
// one kind and so its one status, whichever step finds the failure: our
// pre-check and PVE's own refusal say the same guest state with one code.

// failure is a code and the kind it is answered with.
type failure struct {
	kind apperr.Kind
	code string
}

// The guest states Proxmox will not act on, and the failures a pre-check
// and PVE's refusal share.
var (
	guestNotFound   = failure{apperr.NotFound, "guest_not_found"}
	guestIsTemplate = failure{apperr.Conflict, "guest_is_template"}
	guestLocked     = failure{apperr.Conflict, "guest_locked"}
	alreadyRunning  = failure{apperr.Conflict, "guest_already_running"}
	notRunning      = failure{apperr.Conflict, "guest_not_running"}
	guestPaused     = failure{apperr.Conflict, "guest_paused"}
	taskFailed      = failure{apperr.BadGateway, "proxmox_task_failed"}
	invalidUPID     = failure{apperr.Invalid, "invalid_upid"}
)

// say is the failure with a sentence (never a format: PVE's text may hold %).
func (f failure) say(msg string) *apperr.Error { return apperr.New(f.kind, msg).WithCode(f.code) }

// sayf is say with formatting of our own sentence.
func (f failure) sayf(format string, args ...any) *apperr.Error {
	return apperr.Newf(f.kind, format, args...).WithCode(f.code)
}

// The failures with one sentence each.
var (
	errServerNotFound = failure{apperr.NotFound, "server_not_found"}.say("Server not found in this tenant.")
	errTaskNotFound   = failure{apperr.NotFound, "task_not_found"}.say("No such task on this server.")
	errUPIDMalformed  = invalidUPID.say("upid is not a Proxmox task id (UPID:node:pid:pstart:starttime:type:id:user:).")
	errUPIDOtherNode  = invalidUPID.say("upid belongs to another node than node.")
	errNoQuorum       = failure{apperr.Conflict, "no_quorum"}.say("The cluster has lost quorum, so Proxmox cannot start, stop or change guests now (pmxcfs is read-only without quorum). Bring enough nodes back and try again.")
	errGuestNotFound  = guestNotFound.say("No guest with that vmid, type and node on this server.")
)

// proxmoxFailure is a server failing with status: proxmox_<status>, 504 for
// a timeout and 502 otherwise. It is the same code whether the failure is
// known before any call (unreachable) or met during one (proxmoxError).
func proxmoxFailure(status proxmox.Status, cause error, msg string) *apperr.Error {
	kind := apperr.BadGateway
	if status == proxmox.StatusTimeout {
		kind = apperr.GatewayTimeout
	}
	return apperr.Wrap(kind, cause, msg).WithCode("proxmox_" + string(status))
}

// unreachable answers for a server that must not be called at all (no
// credentials, nothing verifies its TLS): nothing is sent to it.
func unreachable(s targets.Server) error {
	return proxmoxFailure(s.ProblemStatus, nil, "This server cannot be reached: "+s.Problem+".")
}

// proxmoxError maps a failed Proxmox call to proxmoxFailure with the
// client's sentence; our own errors pass through.
func proxmoxError(err error) error {
	var ae *apperr.Error
	if errors.As(err, &ae) {
		return err
	}
	return proxmoxFailure(proxmox.Classify(err), err, "The Proxmox server failed: "+proxmox.Describe(err)+".")
}
