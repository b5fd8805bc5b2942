package failover

import (
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/irisha/irisha/api/v1alpha1"
	"github.com/irisha/irisha/internal/fencing"
)

// The failover record and the FailingOver condition follow a failover step
// by step: declared dead, fenced, recovered (with its seconds), and a
// failover that ended is never moved again; an abandoned one says so.
func TestFailoverRecordFollowsTheDecisions(t *testing.T) {
	t0 := time.Date(2026, 12, 2, 6, 0, 0, 0, time.UTC)
	at := func(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }
	cond := func(st *v1alpha1.IrisInstanceStatus) (metav1.ConditionStatus, string) {
		c := meta.FindStatusCondition(st.Conditions, v1alpha1.ConditionFailingOver)
		if c == nil {
			t.Fatal("no FailingOver condition")
		}
		return c.Status, c.Reason
	}
	target := &fencing.Target{Reason: "LeaseExpired", Node: "node-1", Pod: "iris-a", PodUID: "uid-a", LeaseRenewTime: at(-10)}

	st := &v1alpha1.IrisInstanceStatus{}
	progress(st, fencing.Decision{Verdict: v1alpha1.FencingHealthy}, at(0))
	if s, r := cond(st); s != metav1.ConditionFalse || r != ReasonNoFailover {
		t.Errorf("before any failover: %s/%s", s, r)
	}

	startRecord(st, fencing.Decision{Start: true, Target: target, Verdict: v1alpha1.FencingConfirmedDead}, at(1))
	rec := st.LastFailover
	if st.Failovers != 1 || rec == nil || rec.Pod != "iris-a" || !rec.DetectedAt.Time.Equal(at(1)) || rec.LeaseRenewTime == nil {
		t.Fatalf("started: failovers %d, record %+v", st.Failovers, rec)
	}
	if s, r := cond(st); s != metav1.ConditionTrue || r != ReasonDetected {
		t.Errorf("declared dead: %s/%s", s, r)
	}

	// Steps still to do: not fenced yet.
	progress(st, fencing.Decision{Verdict: v1alpha1.FencingConfirmedDead, Actions: []fencing.Action{{Kind: fencing.ForceDeletePod}}}, at(2))
	if rec.FencedAt != nil {
		t.Error("fenced while steps remain")
	}
	progress(st, fencing.Decision{Verdict: v1alpha1.FencingFenced}, at(3.25))
	if rec.FencedAt == nil || !rec.FencedAt.Time.Equal(at(3.25)) {
		t.Errorf("fenced at %v, want %s", rec.FencedAt, at(3.25))
	}
	if s, r := cond(st); s != metav1.ConditionTrue || r != ReasonFenced {
		t.Errorf("fenced: %s/%s", s, r)
	}

	progress(st, fencing.Decision{Verdict: v1alpha1.FencingHealthy, Recovered: true}, at(13.4))
	if rec.ReadyAt == nil || rec.Seconds != "12.4" {
		t.Errorf("recovered: ready at %v, seconds %q, want 12.4 (to the tenth, from MicroTime)", rec.ReadyAt, rec.Seconds)
	}
	if s, r := cond(st); s != metav1.ConditionFalse || r != ReasonRecovered {
		t.Errorf("recovered: %s/%s", s, r)
	}
	progress(st, fencing.Decision{Verdict: v1alpha1.FencingHealthy, Recovered: true, Aborted: true}, at(20))
	if !rec.ReadyAt.Time.Equal(at(13.4)) || rec.Abandoned {
		t.Errorf("an ended failover moved: %+v", rec)
	}

	st = &v1alpha1.IrisInstanceStatus{}
	startRecord(st, fencing.Decision{Start: true, Target: target, Verdict: v1alpha1.FencingConfirmedDead}, at(1))
	progress(st, fencing.Decision{Verdict: v1alpha1.FencingHealthy, Aborted: true}, at(2))
	if !st.LastFailover.Abandoned || st.LastFailover.FencedAt != nil {
		t.Errorf("abandoned: %+v", st.LastFailover)
	}
	if s, r := cond(st); s != metav1.ConditionFalse || r != ReasonAbandoned {
		t.Errorf("abandoned: %s/%s", s, r)
	}
}
