package proxmoxservers

import "github.com/pvetenant/backend/shared/apperr"

// The function's failures, each coined once here (the store's are in
// store/errors.go). Field-by-field 400s are bad(...) in Parse, each naming
// its field.

func bad(msg string) error { return apperr.New(apperr.Invalid, msg) }

var (
	errCredentialsRequired = bad("Credentials are required: tokenId and tokenSecret, or username and password.")
	errNothingToUpdate     = bad("Nothing to update: give at least one field to change.")
	// The stored secret must not follow the server to an address its
	// editor chose without knowing it.
	errMovedWithoutCredentials   = bad("Changing the host or port requires entering the credentials again.")
	errClusterWithoutCredentials = bad("Changing the cluster CA, or adding endpoints trusted by their own fingerprint, requires entering the credentials again.")

	// errForbiddenAddress does not say which rule refused the address
	// (built-in range, deny list or port list): the operator's network
	// layout is not the caller's business.
	errForbiddenAddress = apperr.New(apperr.Invalid,
		"This address cannot be used for a Proxmox server. Use the address your Proxmox server is reachable at, or ask the operator of this service which networks are allowed.").
		WithCode("forbidden_address")
)

// errSameCluster refuses to register a cluster twice (issue 14).
func errSameCluster(other string) error {
	return apperr.New(apperr.Conflict, "This is the same cluster as server \""+other+
		"\" (same cluster name and nodes). Add this address as an endpoint of that server instead, so the cluster is counted once.").
		WithCode("same_cluster")
}
