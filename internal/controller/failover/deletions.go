package failover

import (
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/types"
)

// askedDeletionsKept bounds how long a deletion the cache never showed is
// remembered (the object went before its update reached the cache).
const askedDeletionsKept = time.Minute

// askedDeletions remembers, by UID, the VolumeAttachments this operator has
// deleted until its cache shows them being deleted. The old pod's deletion
// wakes the instance again at once, usually before the attachment's update
// has reached the cache; without this, that reconcile would delete it, and
// tell so in an Event, a second time. (The ReplicaSet controller keeps
// "expectations" for the same reason.)
type askedDeletions struct {
	mu   sync.Mutex
	uids map[types.UID]time.Time
}

// asked records that the attachment with uid was deleted at now.
func (a *askedDeletions) asked(uid types.UID, now time.Time) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.uids == nil {
		a.uids = map[types.UID]time.Time{}
	}
	for u, at := range a.uids {
		if now.Sub(at) > askedDeletionsKept {
			delete(a.uids, u)
		}
	}
	a.uids[uid] = now
}

// deleting: the cached attachment with uid is being deleted, by what the
// cache shows (cached) or by a deletion this operator asked for that the
// cache has not shown yet.
func (a *askedDeletions) deleting(uid types.UID, cached bool) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	if cached {
		delete(a.uids, uid) // the cache has caught up
		return true
	}
	_, ok := a.uids[uid]
	return ok
}
