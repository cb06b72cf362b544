package proxmox

// StoredError rebuilds a failure that another process classified and
// described (e.g. one read from the shared snapshot store): Classify gives
// status back and Describe gives detail, as for the original error.
func StoredError(status Status, detail string) error {
	kind := ErrRequest
	switch status {
	case StatusAuthError:
		kind = ErrAuth
	case StatusTLSError:
		kind = ErrTLS
	case StatusTimeout:
		kind = ErrTimeout
	case StatusOffline:
		kind = ErrUnreachable
	}
	return &Error{Op: "GET /cluster/resources", Kind: kind, detail: detail}
}
