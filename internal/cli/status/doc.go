// Package status is `irisha status <instance>` (also `kubectl irisha
// status`): one screen with what an operator of an IRIS instance asks first
// — is it up, where does it run, is its volume and fencing Lease healthy,
// what did the last failover do, did the last backups work, what happened
// lately.
//
// It is split the way it can be tested without a cluster: gather.go reads the
// objects into a Snapshot (the only code that talks to the API server),
// view.go turns a Snapshot into a View (pure: the facts, computed, in a
// stable struct that -o json|yaml prints as is), text.go draws a View for a
// terminal, and watch.go redraws it when the instance, its pods or its Lease
// change.
package status
