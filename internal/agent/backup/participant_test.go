package backup

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/clock"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/irisha/irisha/api/v1alpha1"
	"github.com/irisha/irisha/internal/iris"
)

// fakeFreezer is IRIS's write daemon: frozen or not, and how often thawed.
type fakeFreezer struct {
	mu        sync.Mutex
	frozen    bool
	thaws     int
	freezeErr error
	thawErr   error
	timeout   int
}

func (f *fakeFreezer) Freeze(_ context.Context, timeoutSeconds int) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.timeout = timeoutSeconds
	if f.freezeErr != nil {
		return f.freezeErr
	}
	f.frozen = true
	return nil
}

func (f *fakeFreezer) Thaw(context.Context) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.thaws++
	if f.thawErr != nil {
		return f.thawErr
	}
	f.frozen = false
	return nil
}

func (f *fakeFreezer) failThaws(err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.thawErr = err
}

func (f *fakeFreezer) state() (bool, int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.frozen, f.thaws
}

// fakeClock moves time only when a test steps it. FakeClock runs an
// AfterFunc callback under its own lock, where the callback's Now or
// AfterFunc would deadlock; this runs it in a goroutine of its own, as
// time.AfterFunc does, and step waits for every callback it fired.
type fakeClock struct {
	*clocktesting.FakeClock
	callbacks sync.WaitGroup
}

func (c *fakeClock) AfterFunc(d time.Duration, f func()) clock.Timer {
	return c.FakeClock.AfterFunc(d, func() {
		c.callbacks.Add(1)
		go func() {
			defer c.callbacks.Done()
			f()
		}()
	})
}

// step moves the clock by d and returns once the timers it fired have run.
func (c *fakeClock) step(d time.Duration) {
	c.Step(d)
	c.callbacks.Wait()
}

func newTestParticipant(t *testing.T) (*participant, *fakeFreezer, *fakeClock) {
	f := &fakeFreezer{}
	clk := &fakeClock{FakeClock: clocktesting.NewFakeClock(time.Now())}
	m := Metrics{Frozen: prometheus.NewGauge(prometheus.GaugeOpts{Name: "frozen"}),
		DeadlineThaws: prometheus.NewCounter(prometheus.CounterOpts{Name: "thaws"})}
	return newParticipant(t.Context(), f, m, clk, logr.Discard()), f, clk
}

func testBackup(uid string, maxFrozen int32) *v1alpha1.IrisBackup {
	return &v1alpha1.IrisBackup{
		ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "bk-" + uid, UID: types.UID(uid)},
		Spec:       v1alpha1.IrisBackupSpec{InstanceName: "iris", MaxFrozenSeconds: maxFrozen},
	}
}

// TestDeadManSwitch: the timer alone thaws at the deadline, with nothing
// else running (no manager, no API server), and tells the reconciler.
func TestDeadManSwitch(t *testing.T) {
	p, fz, clk := newTestParticipant(t)
	b := testBackup("a", 1)
	f, err := p.freezeFor(t.Context(), b)
	if err != nil {
		t.Fatal(err)
	}
	if fz.timeout < 2 {
		t.Errorf("IRIS freeze timeout %d s does not outlast the 1 s deadline", fz.timeout)
	}
	clk.step(999 * time.Millisecond)
	if frozen, _ := fz.state(); !frozen {
		t.Fatal("thawed before the deadline")
	}
	clk.step(time.Millisecond)
	select {
	case ev := <-p.thawed:
		if ev.Object.GetName() != b.Name {
			t.Errorf("notified about %s", ev.Object.GetName())
		}
	default:
		t.Fatal("the deadline passed without a thaw")
	}
	if frozen, _ := fz.state(); frozen {
		t.Fatal("IRIS still frozen after the deadline")
	}
	l, got := p.view(b)
	if got.thawedBy != v1alpha1.ThawDeadline || got.thawedAt.Before(f.deadline) {
		t.Errorf("record = %+v, want thawed by Deadline, not before %s", got, f.deadline)
	}
	if l.own != thawedByMe {
		t.Errorf("view = %+v, want thawedByMe until recorded", l)
	}
	if v := testutil.ToFloat64(p.metrics.DeadlineThaws); v != 1 {
		t.Errorf("deadline thaws = %v", v)
	}
	p.forget(b.UID)
	if l, _ := p.view(testBackup("b", 1)); l.busy {
		t.Errorf("a recorded thaw still blocks the next freeze")
	}
}

// TestThawOnRequestDisarmsTheTimer: one thaw per freeze.
func TestThawOnRequestDisarmsTheTimer(t *testing.T) {
	p, fz, clk := newTestParticipant(t)
	b := testBackup("a", 1)
	if _, err := p.freezeFor(t.Context(), b); err != nil {
		t.Fatal(err)
	}
	f, err := p.thaw(b.UID, v1alpha1.ThawRequested)
	if err != nil || f.thawedBy != v1alpha1.ThawRequested {
		t.Fatalf("thaw = %+v, %v", f, err)
	}
	if clk.HasWaiters() {
		t.Error("the deadline timer is still armed after the thaw")
	}
	clk.step(1500 * time.Millisecond)
	if _, thaws := fz.state(); thaws != 1 {
		t.Errorf("thawed %d times, want once", thaws)
	}
	if v := testutil.ToFloat64(p.metrics.Frozen); v != 0 {
		t.Errorf("frozen gauge = %v", v)
	}
}

// TestOneFreezeAtATime: another backup's restart thaw must not end the
// freeze this process holds, and a second freeze is refused.
func TestOneFreezeAtATime(t *testing.T) {
	p, fz, _ := newTestParticipant(t)
	if _, err := p.freezeFor(t.Context(), testBackup("a", 60)); err != nil {
		t.Fatal(err)
	}
	if _, err := p.freezeFor(t.Context(), testBackup("b", 60)); err == nil {
		t.Error("a second freeze was accepted")
	}
	if err := p.thawUnowned(); err != nil {
		t.Fatal(err)
	}
	if frozen, _ := fz.state(); !frozen {
		t.Error("a stale backup's thaw ended the current freeze")
	}
	if err := p.release(true); err != nil {
		t.Fatal(err)
	}
	if frozen, _ := fz.state(); frozen {
		t.Error("release(true) left IRIS frozen")
	}
}

// TestFailedFreezeIsThawed: a failed ExternalFreeze may still have
// suspended the write daemon.
func TestFailedFreezeIsThawed(t *testing.T) {
	p, fz, _ := newTestParticipant(t)
	fz.freezeErr = iris.ErrFreezeFailed
	if _, err := p.freezeFor(t.Context(), testBackup("a", 10)); !errors.Is(err, iris.ErrFreezeFailed) {
		t.Fatalf("err = %v", err)
	}
	if _, thaws := fz.state(); thaws != 1 {
		t.Errorf("thawed %d times after a failed freeze, want once", thaws)
	}
	if l, _ := p.view(testBackup("b", 10)); l.busy {
		t.Error("a failed freeze blocks the next one")
	}
}

// TestDeadlineThawRetried: a thaw at the deadline that fails is tried again
// after thawRetry, since nothing else may come to do it.
func TestDeadlineThawRetried(t *testing.T) {
	p, fz, clk := newTestParticipant(t)
	b := testBackup("a", 1)
	if _, err := p.freezeFor(t.Context(), b); err != nil {
		t.Fatal(err)
	}
	fz.failThaws(errors.New("iris stat -W failed"))
	clk.step(time.Second)
	if frozen, thaws := fz.state(); !frozen || thaws != 1 {
		t.Fatalf("after the failed deadline thaw: frozen %v, %d thaws; want frozen, 1", frozen, thaws)
	}
	if l, _ := p.view(b); l.own != frozenByMe {
		t.Errorf("view = %+v, want the freeze still held", l)
	}
	fz.failThaws(nil)
	clk.step(thawRetry - time.Millisecond)
	if _, thaws := fz.state(); thaws != 1 {
		t.Errorf("retried after %s, before thawRetry (%s)", thawRetry-time.Millisecond, thawRetry)
	}
	clk.step(time.Millisecond)
	if frozen, thaws := fz.state(); frozen || thaws != 2 {
		t.Errorf("after thawRetry: frozen %v, %d thaws; want thawed by the second try", frozen, thaws)
	}
	if v := testutil.ToFloat64(p.metrics.DeadlineThaws); v != 1 {
		t.Errorf("deadline thaws = %v, want 1", v)
	}
}
