// Package probing holds the acceptance tests of issue 18 across the
// functions: the operator's deny list keeps every function away from a
// denied address, probing is limited fleet-wide (also across two processes
// on one database), and every test of an unsaved target is audited.
package probing
