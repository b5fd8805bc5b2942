package kwok

import (
	"embed"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/irisha/irisha/internal/testbin"
)

// Labels and annotations of simulated nodes.
const (
	// AnnotationNode marks a node as kwok-managed (kwok's convention).
	AnnotationNode = "kwok.x-k8s.io/node"
	// AnnotationControllerManagedAttach makes the attach/detach controller
	// create VolumeAttachments for the node; a kubelet sets it at
	// registration, so the sim must too.
	AnnotationControllerManagedAttach = "volumes.kubernetes.io/controller-managed-attach-detach"
	// LabelSimNode marks nodes of the simulated cluster.
	LabelSimNode = "sim.irisha.dev/node"
)

// stages are the kwok Stages that make kwok a heartbeat: initialise the
// node, then renew its Lease and, rarely, its status, like a kubelet. They
// are kwok v0.8.0's node-initialize and node-heartbeat-with-lease with the
// conditions' lastTransitionTime written as a kubelet writes it (see the
// files).
//
//go:embed stages/node-initialize.yaml stages/node-heartbeat-with-lease.yaml
var stages embed.FS

var stageFiles = []string{
	"stages/node-initialize.yaml",
	"stages/node-heartbeat-with-lease.yaml",
}

// DefaultStatusPeriod is how often kwok's upstream heartbeat Stage rewrites
// a Ready node's status (600 s, jitter up to 610 s).
const DefaultStatusPeriod = 10 * time.Minute

// Config is the kwok configuration every node's kwok shares.
type Config struct {
	// StatusPeriod is how often kwok rewrites a Ready node's status
	// (conditions with a new lastHeartbeatTime, addresses), jittered by up
	// to a sixtieth more; 0 is DefaultStatusPeriod. The node Lease, not
	// this, is what keeps a node Ready.
	StatusPeriod time.Duration
}

// Stages returns the Stage documents of cfg, joined as one YAML stream.
func Stages(cfg Config) (string, error) {
	period := cfg.StatusPeriod
	if period <= 0 {
		period = DefaultStatusPeriod
	}
	vars := strings.NewReplacer(
		"${HEARTBEAT_MS}", strconv.FormatInt(period.Milliseconds(), 10),
		"${HEARTBEAT_JITTER_MS}", strconv.FormatInt((period+period/60).Milliseconds(), 10),
	)
	var docs []string
	for _, name := range stageFiles {
		data, err := stages.ReadFile(name)
		if err != nil {
			return "", fmt.Errorf("reading kwok stage %s: %w", name, err)
		}
		docs = append(docs, strings.TrimSpace(vars.Replace(string(data))))
	}
	return strings.Join(docs, "\n---\n") + "\n", nil
}

// WriteConfig writes the node stages as one kwok configuration file in dir.
func WriteConfig(dir string, cfg Config) (string, error) {
	text, err := Stages(cfg)
	if err != nil {
		return "", err
	}
	path := filepath.Join(dir, "kwok-stages.yaml")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		return "", fmt.Errorf("writing %s: %w", path, err)
	}
	return path, nil
}

// Options of one node's kwok process.
type Options struct {
	Node       string
	NodeIP     string
	Kubeconfig string
	ConfigPath string
	// LeaseDurationSeconds: kwok renews the node Lease every quarter of it,
	// as the kubelet does (40 s -> every 10 s).
	LeaseDurationSeconds int
}

// Command returns the kwok command for one node.
func Command(o Options) (*exec.Cmd, error) {
	bin, err := testbin.Path(testbin.Kwok)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin,
		"--kubeconfig="+o.Kubeconfig,
		"--config="+o.ConfigPath,
		"--manage-single-node="+o.Node,
		"--node-ip="+o.NodeIP,
		"--node-lease-duration-seconds="+strconv.Itoa(o.LeaseDurationSeconds),
	)
	// kwok reads ~/.kwok by default; keep it out of the user's home.
	cmd.Env = append(os.Environ(), "HOME="+filepath.Dir(o.ConfigPath))
	return cmd, nil
}

// NodeObject is the Node a simulated kubelet would register.
func NodeObject(name, zone string) *corev1.Node {
	return &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{
			Name: name,
			Labels: map[string]string{
				"kubernetes.io/hostname":      name,
				"kubernetes.io/os":            "linux",
				"kubernetes.io/arch":          "amd64",
				"topology.kubernetes.io/zone": zone,
				"type":                        "kwok",
				LabelSimNode:                  "true",
			},
			Annotations: map[string]string{
				AnnotationNode:                    "fake",
				AnnotationControllerManagedAttach: "true",
				"node.alpha.kubernetes.io/ttl":    "0",
			},
		},
	}
}
