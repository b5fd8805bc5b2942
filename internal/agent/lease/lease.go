package lease

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/go-logr/logr"
	coordinationv1 "k8s.io/api/coordination/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	coordinationclient "k8s.io/client-go/kubernetes/typed/coordination/v1"
	"k8s.io/utils/clock"
	"k8s.io/utils/ptr"

	"github.com/irisha/irisha/api/v1alpha1"
)

// ErrFenced means the agent could not renew in time, or found the Lease held
// by someone else: IRIS must be stopped now.
var ErrFenced = errors.New("fencing Lease lost")

// Config of a Lease.
type Config struct {
	Namespace, Name string
	// Identity of this agent: its pod, as "<name>_<uid>".
	Identity string
	Timing   Timing
	Clock    clock.WithTicker
	// CloseConnections, if set, drops every connection of the Lease's
	// client (NewClient's closer); Hold calls it after an attempt that got
	// no answer, so the retry does not wait on a dead connection.
	CloseConnections func()
	// Extender, if set, is asked while renewals fail whether IRIS may keep
	// running although the API server did not answer (the witness quorum).
	Extender Extender
	// TakesOverExpired, if set, says whether Acquire may take a Lease whose
	// holder let it expire. Where agents ride out outages on witnesses, an
	// expired Lease proves nothing: its holder may still run IRIS on their
	// word, and only the operator, which asks them, frees it.
	TakesOverExpired func() bool
	// Annotations, if set, are written onto the Lease with each renewal:
	// facts the operator wants from the agent (the volume's usage) ride on
	// writes the agent makes anyway.
	Annotations func() map[string]string
}

// Lease is the agent's handle on the fencing Lease.
type Lease struct {
	cfg    Config
	client coordinationclient.LeasesGetter
	log    logr.Logger

	obs *Observation

	// mu guards what Hold's loop changes and others read: Deadline from
	// the agent, Release right after Hold was told to stop.
	mu      sync.Mutex
	current *coordinationv1.Lease
	// base is what the fence deadline counts from: the send time of the
	// last successful renewal, or a later one an Extender vouched for.
	base time.Time
}

// New returns a handle; nothing is sent until Acquire.
func New(cfg Config, client coordinationclient.LeasesGetter, log logr.Logger) (*Lease, error) {
	if err := cfg.Timing.Validate(); err != nil {
		return nil, err
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.RealClock{}
	}
	return &Lease{cfg: cfg, client: client, log: log.WithValues("lease", cfg.Namespace+"/"+cfg.Name)}, nil
}

// Deadline is when the agent is fenced unless a renewal succeeds first,
// extensions included.
func (l *Lease) Deadline() time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.cfg.Timing.FenceDeadline(l.base)
}

// Acquire blocks until this agent holds the Lease or ctx is done. While
// another agent holds it, it waits until it has seen the Lease unchanged for
// a whole lease duration.
func (l *Lease) Acquire(ctx context.Context) error {
	leases := l.client.Leases(l.cfg.Namespace)
	waitLogged := false
	for {
		sent := l.cfg.Clock.Now()
		cur, err := leases.Get(ctx, l.cfg.Name, metav1.GetOptions{})
		switch {
		case apierrors.IsNotFound(err):
			created, err := leases.Create(ctx, l.newLease(sent), metav1.CreateOptions{})
			if err == nil {
				l.renewed(created, sent)
				return nil
			}
			if !apierrors.IsAlreadyExists(err) {
				l.log.Error(err, "Creating the fencing Lease failed; retrying")
			}
		case err != nil:
			l.log.Error(err, "Reading the fencing Lease failed; retrying")
		default:
			obs := Observe(l.obs, recordOf(cur), sent)
			l.obs = &obs
			if slices.Contains(obs.Fenced, l.cfg.Identity) {
				return fmt.Errorf("%w: the operator fenced this pod (Lease annotation %s); it must not start IRIS again", ErrFenced, v1alpha1.AnnotationFencedHolders)
			}
			if CanAcquire(obs, l.cfg.Identity, sent) && l.mayTakeOver(obs) {
				taken, err := leases.Update(ctx, l.takeOver(cur, sent), metav1.UpdateOptions{})
				if err == nil {
					l.renewed(taken, sent)
					return nil
				}
				l.log.Info("Taking the fencing Lease failed; retrying", "error", err.Error())
			} else if !waitLogged {
				l.log.Info("Waiting for the fencing Lease: another agent holds it; IRIS starts once it expires or is released",
					"holder", obs.Holder, "waitAtMost", WaitLeft(obs, l.cfg.Identity, sent).String())
				waitLogged = true
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-l.cfg.Clock.After(l.cfg.Timing.RenewInterval):
		}
	}
}

// mayTakeOver: a free Lease, or our own, may always be taken; another
// holder's expired one only if TakesOverExpired allows.
func (l *Lease) mayTakeOver(obs Observation) bool {
	if obs.Holder == "" || obs.Holder == l.cfg.Identity || l.cfg.TakesOverExpired == nil {
		return true
	}
	return l.cfg.TakesOverExpired()
}

// Release gives the Lease up after IRIS stopped cleanly, so a replacement
// starts at once instead of waiting a lease duration.
func (l *Lease) Release(ctx context.Context) error {
	cur := l.held()
	if cur == nil {
		return nil
	}
	next := cur.DeepCopy()
	next.Spec.HolderIdentity = nil
	next.Spec.RenewTime = ptr.To(metav1.NewMicroTime(l.cfg.Clock.Now()))
	// The last facts ride on the release too: a planned restart's reason
	// must reach the operator although no renewal follows.
	l.annotate(next)
	if _, err := l.client.Leases(l.cfg.Namespace).Update(ctx, next, metav1.UpdateOptions{}); err != nil {
		return fmt.Errorf("releasing the fencing Lease: %w", err)
	}
	l.mu.Lock()
	l.current = nil
	l.mu.Unlock()
	return nil
}

// annotate sets Config.Annotations on next.
func (l *Lease) annotate(next *coordinationv1.Lease) {
	if l.cfg.Annotations == nil {
		return
	}
	for k, v := range l.cfg.Annotations() {
		metav1.SetMetaDataAnnotation(&next.ObjectMeta, k, v)
	}
}

// held is the Lease as last written or read by this agent, nil if it does
// not hold it.
func (l *Lease) held() *coordinationv1.Lease {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.current
}

// renewed records a successful write sent at sent: the deadline counts from
// it, whatever an Extender said before.
func (l *Lease) renewed(lease *coordinationv1.Lease, sent time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.current, l.base = lease, sent
}

func (l *Lease) newLease(now time.Time) *coordinationv1.Lease {
	return &coordinationv1.Lease{
		ObjectMeta: metav1.ObjectMeta{Namespace: l.cfg.Namespace, Name: l.cfg.Name},
		Spec:       l.spec(now, 0),
	}
}

func (l *Lease) takeOver(cur *coordinationv1.Lease, now time.Time) *coordinationv1.Lease {
	next := cur.DeepCopy()
	transitions := ptr.Deref(cur.Spec.LeaseTransitions, 0)
	if ptr.Deref(cur.Spec.HolderIdentity, "") != l.cfg.Identity {
		transitions++
	}
	next.Spec = l.spec(now, transitions)
	return next
}

func (l *Lease) spec(now time.Time, transitions int32) coordinationv1.LeaseSpec {
	t := metav1.NewMicroTime(now)
	return coordinationv1.LeaseSpec{
		HolderIdentity:       ptr.To(l.cfg.Identity),
		LeaseDurationSeconds: ptr.To(int32(l.cfg.Timing.Duration / time.Second)),
		AcquireTime:          &t,
		RenewTime:            &t,
		LeaseTransitions:     ptr.To(transitions),
	}
}

func recordOf(l *coordinationv1.Lease) Record {
	r := Record{
		Holder:   ptr.Deref(l.Spec.HolderIdentity, ""),
		Duration: time.Duration(ptr.Deref(l.Spec.LeaseDurationSeconds, 0)) * time.Second,
	}
	if l.Spec.RenewTime != nil {
		r.RenewTime = l.Spec.RenewTime.Time
	}
	r.Fenced = v1alpha1.FencedHolders(l.Annotations)
	return r
}
