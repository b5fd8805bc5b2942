package chaos

import (
	"context"
	"time"
)

// Scenario names a drill.
type Scenario string

// The drills: the article's four (IRIS stopped inside the container, the
// pod deleted, the node drained, the node killed), a network partition of
// the node, and a backup restored into a clone.
const (
	IrisStop      Scenario = "iris-stop"
	PodDelete     Scenario = "pod-delete"
	Drain         Scenario = "drain"
	NodeKill      Scenario = "node-kill"
	NodePartition Scenario = "node-partition"
	BackupRestore Scenario = "backup-restore"
)

// MarkKind is one step of a recovery, in the order a recovery passes them.
type MarkKind string

// Marks of a drill's timeline.
const (
	// MarkFault: the fault was injected (always at 0 s).
	MarkFault MarkKind = "fault"
	// MarkDetected: Kubernetes or the operator noticed (the pod stopped
	// being Ready, or the node NotReady, or the operator declared the old
	// pod dead).
	MarkDetected MarkKind = "detected"
	// MarkFenced: the old IRIS can no longer write (its pod and volume
	// attachment are gone, as the failover record says, or its pod is gone).
	MarkFenced MarkKind = "fenced"
	// MarkAttached: the volume is attached to the replacement's node.
	MarkAttached MarkKind = "attached"
	// MarkReady: a replacement pod is Ready.
	MarkReady MarkKind = "ready"
	// MarkFirstWrite: the first row acknowledged after the fault; the RTO.
	MarkFirstWrite MarkKind = "first-write"
)

// Marks of the backup-restore drill, whose "fault" is the backup request
// and whose ready and first write are the restored clone's.
const (
	MarkFrozen    MarkKind = "frozen"
	MarkCut       MarkKind = "cut"
	MarkThawed    MarkKind = "thawed"
	MarkCompleted MarkKind = "completed"
	MarkRestore   MarkKind = "restore"
)

// MarkOrder is the order marks are drawn and listed in.
var MarkOrder = []MarkKind{MarkFault, MarkFrozen, MarkCut, MarkThawed, MarkCompleted, MarkRestore,
	MarkDetected, MarkFenced, MarkAttached, MarkReady, MarkFirstWrite}

// Mark is one timeline step, seconds after the fault.
type Mark struct {
	Kind    MarkKind `json:"kind"`
	Seconds float64  `json:"seconds"`
	Detail  string   `json:"detail,omitempty"`
}

// Write is one write attempt of the writer: acknowledged (OK) or not.
type Write struct {
	Seq int64 `json:"seq"`
	// Seconds after the fault; negative before it.
	Seconds float64 `json:"seconds"`
	Pod     string  `json:"pod,omitempty"`
	OK      bool    `json:"ok"`
}

// Result is one drill's outcome.
type Result struct {
	Scenario Scenario `json:"scenario"`
	// FailureDomain is what the drill breaks, in the article's words
	// ("IRIS instance inside the container", ...); MitigatedBy what brings
	// the database back.
	FailureDomain string `json:"failureDomain"`
	MitigatedBy   string `json:"mitigatedBy"`
	// Node is the node the fault hit; OldPod the pod that served before,
	// NewPod and NewNode the one that serves after (empty if none).
	Node    string    `json:"node,omitempty"`
	OldPod  string    `json:"oldPod,omitempty"`
	NewPod  string    `json:"newPod,omitempty"`
	NewNode string    `json:"newNode,omitempty"`
	FaultAt time.Time `json:"faultAt"`
	// Recovered: a write was acknowledged after the fault within the cap.
	Recovered bool `json:"recovered"`
	// RTOSeconds is fault to first acknowledged write; nil if it never came.
	RTOSeconds *float64 `json:"rtoSeconds"`
	// Acknowledged and Failed count the writer's attempts over the drill.
	Acknowledged int `json:"acknowledged"`
	Failed       int `json:"failedWrites"`
	// Lost are acknowledged rows missing once recovered: the RPO. Nil when
	// the rows could not be read back (see Error), which is not RPO 0.
	Lost []int64 `json:"lost"`
	// Checked: the rows were read back after recovery, so Lost is known.
	Checked bool `json:"checked"`
	// StaleAcks counts rows the old pod acknowledged after the new pod had
	// acknowledged one: two writers, as the application sees them.
	StaleAcks int `json:"staleAcks"`
	// Marks in time order; Writes in the order attempted.
	Marks  []Mark  `json:"marks"`
	Writes []Write `json:"writes"`
	// WindowSeconds is how long the drill was recorded after the fault.
	WindowSeconds float64 `json:"windowSeconds"`
	// Error says why the drill could not run or be measured, or that it
	// did not recover within its cap.
	Error string `json:"error,omitempty"`
}

// RPORows is the number of acknowledged rows lost, or -1 if not checked.
func (r Result) RPORows() int {
	if !r.Checked {
		return -1
	}
	return len(r.Lost)
}

// Setup is one deployment the drills ran against (irisha, or the
// reference YAML beside it in the sandbox).
type Setup struct {
	Name        string   `json:"name"`
	Description string   `json:"description,omitempty"`
	Results     []Result `json:"results"`
	// W1 is the single-writer check's verdict over the whole run where one
	// could be made (the simulated cluster reads the fake IRIS's journal):
	// W1Held, or what the check found. Empty when not checked.
	W1 string `json:"w1,omitempty"`
}

// W1Held is Setup.W1 when one IRIS wrote at every moment.
const W1Held = "one writer at every moment"

// Report is a chaos run.
type Report struct {
	// Cluster says where: a kubeconfig context, or "simulated".
	Cluster   string    `json:"cluster"`
	Namespace string    `json:"namespace"`
	Instance  string    `json:"instance"`
	Started   time.Time `json:"started"`
	Version   string    `json:"irishaVersion"`
	// Writer says how rows were written and read back.
	Writer string `json:"writer"`
	// Journal is IRIS's journal settings that bound what an acknowledged
	// row means (whether a commit waits for the journal to be on disk).
	Journal string `json:"journal"`
	// Timings describes the cluster's failure-detection timings when known.
	Timings string  `json:"timings,omitempty"`
	Setups  []Setup `json:"setups"`
}

// Execer runs a command in a container, as kubectl exec does, and returns
// its standard output; a command that ran and exited non-zero is an error
// too.
type Execer interface {
	Exec(ctx context.Context, namespace, pod, container string, stdin []byte, argv ...string) ([]byte, error)
}

// NodeFaults does what the Kubernetes API cannot: kill a node, cut it off
// the network, and heal that cut.
type NodeFaults interface {
	Kill(ctx context.Context, node string) error
	Partition(ctx context.Context, node string) error
	Heal(ctx context.Context, node string) error
}
