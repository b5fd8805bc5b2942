package main

import (
	"context"
	"fmt"
	"time"

	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/irisha/irisha/api/v1alpha1"
	"github.com/irisha/irisha/internal/iris/fakeiris"
	"github.com/irisha/irisha/internal/operator"
	"github.com/irisha/irisha/internal/resources"
	"github.com/irisha/irisha/internal/sim"
	simirisha "github.com/irisha/irisha/internal/sim/irisha"
	"github.com/irisha/irisha/internal/sim/proc"
)

// The irisha setup: one IrisInstance per namespace, all named iris.
const (
	irishaInstance  = "iris"
	irishaSelector  = resources.LabelIrisInstance + "=" + irishaInstance
	irishaContainer = resources.ContainerName
	// irishaImage is kept as the spec's image string; nothing is pulled.
	irishaImage = "containers.intersystems.com/intersystems/iris-community:2025.1"
	// irishaLeaseSeconds is the fencing Lease's duration under test.
	irishaLeaseSeconds = 10
)

// irishaSpec is the instance the benchmark runs for the setup: class
// longhorn, failover mode Lease (or NodeShutdown) with a 10 s Lease;
// everything else defaulted.
func irishaSpec(ns, setup string) *v1alpha1.IrisInstance {
	mode := v1alpha1.FailoverLease
	if setup == setupIrishaShutdown {
		mode = v1alpha1.FailoverNodeShutdown
	}
	return &v1alpha1.IrisInstance{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: irishaInstance},
		Spec: v1alpha1.IrisInstanceSpec{
			Image:    irishaImage,
			Storage:  v1alpha1.StorageSpec{ClassName: ptr.To(sim.LonghornClass), Size: resource.MustParse("1Gi")},
			Failover: v1alpha1.FailoverSpec{Mode: mode, LeaseDurationSeconds: irishaLeaseSeconds},
		},
	}
}

func irishaClient(c *sim.Cluster) (client.Client, error) {
	scheme, err := operator.NewScheme()
	if err != nil {
		return nil, err
	}
	return client.New(c.RESTConfig(), client.Options{Scheme: scheme})
}

func createInstance(ctx context.Context, cl client.Client, ns, setup string) error {
	if err := cl.Create(ctx, irishaSpec(ns, setup)); err != nil {
		return fmt.Errorf("creating IrisInstance %s/%s: %w", ns, irishaInstance, err)
	}
	return nil
}

// journal reads the instance's fake IRIS journal: its entries and the W1
// check's verdict ("" when one writer at every moment).
func journal(ctx context.Context, c *sim.Cluster, ns string) ([]fakeiris.JournalEntry, string, error) {
	// The data directory does not depend on the failover mode.
	dir, err := simirisha.DataDir(ctx, c, irishaSpec(ns, setupIrisha))
	if err != nil {
		return nil, "", err
	}
	entries, err := simirisha.CheckJournal(dir)
	switch {
	case err == nil:
		return entries, "", nil
	case entries == nil:
		// A read error, not a verdict.
		return nil, "", err
	}
	return entries, err.Error(), nil
}

// lastWriter is the IRIS process that wrote the journal last (0 if none).
func lastWriter(ctx context.Context, c *sim.Cluster, a *app) int {
	entries, _, err := journal(ctx, c, a.ns)
	if err != nil || len(entries) == 0 {
		return 0
	}
	return entries[len(entries)-1].PID
}

// checkJournal records the journal's writers and every sign of two IRIS
// processes writing at once: the journal's own check (sequence numbers,
// a writer that comes back), writes of the old IRIS after the new writer
// started, and an old IRIS still alive at the end (it writes every
// 100 ms while it runs). back is when the node came back (thawed or
// healed), zero if it did not.
func checkJournal(ctx context.Context, c *sim.Cluster, a *app, back time.Time, ir *instanceResult) {
	entries, w1, err := journal(ctx, c, a.ns)
	if err != nil {
		ir.JournalError = err.Error()
		return
	}
	ir.JournalEntries = len(entries)
	ir.Writers = simirisha.Writers(entries)
	if w1 != "" {
		ir.JournalViolations = append(ir.JournalViolations, w1)
	}
	if st := staleWrites(entries, a.oldWriter, back); st.n > 0 {
		ir.StaleWrites, ir.StaleAfterBack = st.n, st.afterBack
		ir.StaleRanSeconds = st.ranFor.Seconds()
		msg := fmt.Sprintf("old IRIS (pid %d) wrote %d entries after the new writer took over at %s",
			a.oldWriter, st.n, st.newStart.Format("15:04:05.000"))
		if st.afterBack > 0 {
			msg += fmt.Sprintf(", %d of them once its node was back, the last %.1f ms after", st.afterBack, 1000*st.ranFor.Seconds())
		}
		ir.JournalViolations = append(ir.JournalViolations, msg)
	}
	stillWriting := len(ir.Writers) > 0 && ir.Writers[len(ir.Writers)-1] == a.oldWriter
	if a.oldWriter > 0 && !stillWriting && proc.Alive(a.oldWriter) {
		ir.JournalViolations = append(ir.JournalViolations, fmt.Sprintf("old IRIS (pid %d) still running at the end of the run", a.oldWriter))
	}
}

// stale describes the old writer's entries after a takeover.
type stale struct {
	// n entries of the old writer follow, in journal order, the first
	// entry of another writer after the old writer's own.
	n int
	// afterBack of them were written once the node was back, the last
	// ranFor after it: how long the old IRIS ran before its agent stopped
	// it (a frozen process resumes with IRIS and agent racing).
	afterBack int
	ranFor    time.Duration
	// newStart is the new writer's first entry's time.
	newStart time.Time
}

// staleWrites finds the old writer's writes after the new one took over.
// Entries are stamped when written, so their times are comparable with
// back.
func staleWrites(entries []fakeiris.JournalEntry, old int, back time.Time) stale {
	var st stale
	if old <= 0 {
		return st
	}
	seenOld, takenOver := false, false
	for _, e := range entries {
		switch {
		case e.PID == old && takenOver:
			st.n++
			if !back.IsZero() && !e.At.Before(back) {
				st.afterBack++
				st.ranFor = max(st.ranFor, e.At.Sub(back))
			}
		case e.PID == old:
			seenOld = true
		case seenOld && !takenOver:
			takenOver, st.newStart = true, e.At
		}
	}
	return st
}
