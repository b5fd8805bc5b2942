package v1alpha1

// Annotations irisha reads or writes on objects it does not own.
const (
	// AnnotationNodeFenced, set to "true" on a Node by the user's fence agent
	// (cloud API, BMC), confirms the node is powered off; the NodeShutdown
	// failover mode waits for it (or for the Node to be deleted).
	AnnotationNodeFenced = "irisha.dev/node-fenced"

	// AnnotationCordoned marks a Node irisha cordoned during a failover, so
	// irisha uncordons it when it is back, and only then.
	AnnotationCordoned = "irisha.dev/cordoned"

	// AnnotationOutOfService marks a Node on which irisha set the
	// node.kubernetes.io/out-of-service taint, so irisha removes it when the
	// node is back, and only then.
	AnnotationOutOfService = "irisha.dev/out-of-service"

	// AnnotationFencedHolders on a fencing Lease lists, comma-separated, the
	// holder identities the operator fenced: their agents must never take
	// the Lease again, even if their pod's container restarts.
	AnnotationFencedHolders = "irisha.dev/fenced-holders"
)
