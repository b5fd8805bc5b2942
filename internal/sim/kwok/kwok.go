package kwok

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"

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

// upstreamStages are the kwok Stage files (relative to testbin's kwok-stages
// directory) that make kwok a heartbeat: initialise the node, then renew
// its Lease and, rarely, its status, like a kubelet.
var upstreamStages = []string{
	"node/fast/node-initialize.yaml",
	"node/heartbeat-with-lease/node-heartbeat-with-lease.yaml",
}

// WriteConfig joins the node stages into one kwok configuration file in dir.
func WriteConfig(dir string) (string, error) {
	root, err := testbin.Path(testbin.KwokStages)
	if err != nil {
		return "", err
	}
	var docs []string
	for _, rel := range upstreamStages {
		data, err := os.ReadFile(filepath.Join(root, rel))
		if err != nil {
			return "", fmt.Errorf("reading kwok stage %s: %w", rel, err)
		}
		docs = append(docs, strings.TrimSpace(string(data)))
	}
	path := filepath.Join(dir, "kwok-stages.yaml")
	if err := os.WriteFile(path, []byte(strings.Join(docs, "\n---\n")+"\n"), 0o600); err != nil {
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
