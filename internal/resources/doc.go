// Package resources turns an IrisInstance into the Kubernetes objects that run
// it: PVC, merge Secret, ServiceAccount, Deployment and Service. Every function
// here is pure (no client, no clock) so each rule that fixes a defect of the
// reference deployment is table-tested, and `irisha render` prints exactly
// what the operator would create.
package resources
