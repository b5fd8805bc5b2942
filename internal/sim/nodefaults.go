package sim

import (
	"context"
	"fmt"
)

// NodeFaults are the simulated cluster's hooks for the faults the
// Kubernetes API cannot cause, in the shape irisha chaos asks for
// (chaos.NodeFaults): kill a node, cut it off, and undo either.
type NodeFaults struct{ C *Cluster }

// Kill powers the node off (Node.Kill).
func (f NodeFaults) Kill(_ context.Context, node string) error {
	n, err := f.node(node)
	if err != nil {
		return err
	}
	return n.Kill()
}

// Partition cuts the node off the API server and its peers.
func (f NodeFaults) Partition(_ context.Context, node string) error {
	n, err := f.node(node)
	if err != nil {
		return err
	}
	n.Partition()
	return nil
}

// Heal undoes Kill (the node boots again) or Partition.
func (f NodeFaults) Heal(ctx context.Context, node string) error {
	n, err := f.node(node)
	if err != nil {
		return err
	}
	n.Heal()
	if n.State() == NodeKilled {
		return n.BringBack(ctx)
	}
	return nil
}

func (f NodeFaults) node(name string) (*Node, error) {
	n := f.C.Node(name)
	if n == nil {
		return nil, fmt.Errorf("no simulated node %q", name)
	}
	return n, nil
}
