package ssa

import (
	"sync"

	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
)

// Key names one object of one kind.
type Key struct {
	schema.GroupKind
	types.NamespacedName
}

// Applied is what one apply left: the object's identity and fingerprint
// afterwards, and the intent that was applied.
type Applied struct {
	// Owner is the object the applied one belongs to, so that all of its
	// records go when it does.
	Owner       types.NamespacedName
	UID         types.UID
	Fingerprint string
	Intent      string
}

// Memory remembers the last apply of each object. An apply whose intent is
// unchanged, onto an object that is as the last apply left it, is skipped:
// the API server would make no write either, but every reconcile would cost
// a PATCH per object. It is only a cache of requests saved: a new process
// starts empty and applies everything once. It is safe for concurrent use.
type Memory struct {
	mu   sync.Mutex
	last map[Key]Applied
}

// Unchanged reports whether applying intent to an object whose live
// identity and fingerprint are uid and fingerprint would change nothing.
func (m *Memory) Unchanged(k Key, uid types.UID, fingerprint, intent string) bool {
	a, ok := m.Last(k)
	return ok && a.UID == uid && a.Fingerprint == fingerprint && a.Intent == intent
}

// Last returns the last apply of k.
func (m *Memory) Last(k Key) (Applied, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	a, ok := m.last[k]
	return a, ok
}

// Remember records an apply of k.
func (m *Memory) Remember(k Key, a Applied) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.last == nil {
		m.last = map[Key]Applied{}
	}
	m.last[k] = a
}

// ForgetOwner drops the records of every object owner's applies made.
func (m *Memory) ForgetOwner(owner types.NamespacedName) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for k, a := range m.last {
		if a.Owner == owner {
			delete(m.last, k)
		}
	}
}
