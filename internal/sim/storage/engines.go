package storage

import "sync"

// engines is the block store's own record of where each volume is
// attached. Longhorn runs a volume's engine on one node and refuses to start
// a second one elsewhere; the CSI attacher only asks. Deciding from this
// record, not from the VolumeAttachments, is also what keeps two attacher
// workers from attaching one volume twice.
type engines struct {
	mu sync.Mutex
	// node is, per PV, the node its engine runs on.
	node map[string]string
}

// attach starts pv's engine on node unless it runs elsewhere, and returns
// that other node if so. A shared volume (RWX, ROX) has no single engine
// and always attaches.
func (e *engines) attach(pv, node string, shared bool) (elsewhere string) {
	if shared {
		return ""
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if cur, ok := e.node[pv]; ok && cur != node {
		return cur
	}
	if e.node == nil {
		e.node = map[string]string{}
	}
	e.node[pv] = node
	return ""
}

// detach stops pv's engine if it runs on node.
func (e *engines) detach(pv, node string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.node[pv] == node {
		delete(e.node, pv)
	}
}
