package failover

import (
	"testing"
	"time"
)

func TestAskedDeletions(t *testing.T) {
	var a askedDeletions
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	if a.deleting("va-1", false) {
		t.Fatal("nothing asked: not deleting")
	}
	a.asked("va-1", now)
	if !a.deleting("va-1", false) {
		t.Fatal("asked, cache behind: deleting")
	}
	if a.deleting("va-2", false) {
		t.Fatal("another attachment: not deleting")
	}
	if !a.deleting("va-1", true) {
		t.Fatal("the cache shows the deletion: deleting")
	}
	if len(a.uids) != 0 {
		t.Fatalf("kept %v after the cache caught up", a.uids)
	}
	// A deletion the cache never showed is forgotten after a while.
	a.asked("va-3", now)
	a.asked("va-4", now.Add(askedDeletionsKept+time.Second))
	if a.deleting("va-3", false) || !a.deleting("va-4", false) {
		t.Fatalf("after %s: %v", askedDeletionsKept, a.uids)
	}
}
