package witnesses

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/go-logr/logr"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"

	"github.com/irisha/irisha/internal/quorum"
	"github.com/irisha/irisha/internal/witness"
)

// MembershipName is the ConfigMap, in the witnesses' namespace, that
// records the set of witnesses a majority is counted of, so that a
// restarted operator counts from the same set as the agents.
const MembershipName = "irisha-witnesses"

// AgentRefresh is how often an agent re-reads its mirror of the members.
const AgentRefresh = 10 * time.Second

// Observer reads the witness records past any cache (a quorum LIST, whose
// revision the freshness rule needs) every Period, keeps the membership, and
// judges for the failover controller. It runs on the leader only.
type Observer struct {
	// Reader reads past the cache (the manager's APIReader).
	Reader client.Reader
	// Client writes the membership ConfigMap and reads Nodes; the
	// membership is read through Reader.
	Client    client.Client
	Namespace string
	Timing    quorum.Timing
	// Quiet is the quiet period between membership changes.
	Quiet time.Duration
	// Skew and LongestLease bound the wait before a membership change (the
	// longest Lease any instance may have).
	Skew, LongestLease time.Duration
	Clock              clock.WithTicker
	Log                logr.Logger
	// Changes receives an event whenever the published members change,
	// for the mirrors.
	Changes chan event.GenericEvent

	mu         sync.Mutex
	reads      []quorum.Read
	records    map[string]seen
	readsSince time.Time
	gap        bool
	membership quorum.Membership
	published  []witness.Member
}

type seen struct {
	rv     string
	record quorum.Record
	member witness.Member
	valid  bool
}

// keepReads bounds the reads kept: only those within Freshness count.
const keepReads = 16

// NeedLeaderElection: only the leader judges.
func (o *Observer) NeedLeaderElection() bool { return true }

// Start reads every Period until ctx ends.
func (o *Observer) Start(ctx context.Context) error {
	if err := o.Timing.Validate(); err != nil {
		return err
	}
	o.records = map[string]seen{}
	now := o.Clock.Now()
	// A new operator does not know when its predecessor last changed the
	// set, so it waits a whole quiet period before changing it, and its
	// reads count from now.
	o.membership.Changed, o.readsSince = now, now
	if err := o.loadMembership(ctx); err != nil {
		return err
	}
	ticker := o.Clock.NewTicker(o.Timing.Period)
	defer ticker.Stop()
	for {
		o.read(ctx)
		select {
		case <-ctx.Done():
			return nil
		case <-ticker.C():
		}
	}
}

func (o *Observer) loadMembership(ctx context.Context) error {
	cm := &corev1.ConfigMap{}
	// Past the cache: the operator caches only the ConfigMaps an instance
	// label marks, and this one, written by every operator version since
	// the witnesses exist, carries none.
	switch err := o.Reader.Get(ctx, client.ObjectKey{Namespace: o.Namespace, Name: MembershipName}, cm); {
	case apierrors.IsNotFound(err):
		return nil
	case err != nil:
		return fmt.Errorf("reading the witness membership %s/%s: %w", o.Namespace, MembershipName, err)
	}
	var members []witness.Member
	if err := json.Unmarshal([]byte(cm.Data[witness.MembersKey]), &members); err != nil {
		return fmt.Errorf("the witness membership %s/%s is not a JSON list of members (delete it to start afresh while the control plane is healthy): %w", o.Namespace, MembershipName, err)
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, m := range members {
		o.membership.Members = append(o.membership.Members, m.Name)
	}
	o.published = members
	return nil
}

// read makes one quorum LIST and, if it answered in time, records it.
func (o *Observer) read(ctx context.Context) {
	sent := o.Clock.Now()
	rctx, cancel := context.WithTimeout(ctx, o.Timing.Grace)
	defer cancel()
	list := &coordinationv1.LeaseList{}
	if err := o.Reader.List(rctx, list, client.InNamespace(o.Namespace), client.MatchingLabels{witness.LabelWitness: "true"}); err != nil {
		o.mu.Lock()
		o.gap = true
		o.mu.Unlock()
		o.Log.V(1).Info("Reading the witness records failed", "error", err.Error())
		return
	}
	now := o.Clock.Now()
	o.mu.Lock()
	o.reads = append(o.reads, quorum.Read{Sent: sent, Revision: list.ResourceVersion})
	if len(o.reads) > keepReads {
		o.reads = o.reads[1:]
	}
	if o.gap {
		o.readsSince, o.gap = now, false
	}
	listed := make(map[string]bool, len(list.Items))
	for i := range list.Items {
		l := &list.Items[i]
		listed[l.Name] = true
		if prev, ok := o.records[l.Name]; ok && prev.rv == l.ResourceVersion {
			continue
		}
		m, err := witness.MemberOf(l)
		o.records[l.Name] = seen{rv: l.ResourceVersion, record: witness.ProtocolRecord(l, now), member: m, valid: err == nil}
	}
	// A deleted record is neither fresh nor live: its witness leaves the
	// set (one step at a time, as any change).
	for name := range o.records {
		if !listed[name] {
			delete(o.records, name)
		}
	}
	o.mu.Unlock()
	o.step(ctx, now)
}

// step moves the membership one witness towards the live ones and
// publishes the members' current addresses and keys.
func (o *Observer) step(ctx context.Context, now time.Time) {
	o.mu.Lock()
	var live []string
	for name, s := range o.records {
		if s.valid && o.nodeExists(ctx, s.member.Node) {
			live = append(live, name)
		}
	}
	allows := o.judgeLocked(now, o.LongestLease, o.Skew).Allows(now)
	next, changed := o.membership.Next(live, now, o.Quiet, allows)
	var members []witness.Member
	for _, name := range next.Members {
		if s, ok := o.records[name]; ok && s.valid {
			members = append(members, s.member)
		} else if i := slices.IndexFunc(o.published, func(m witness.Member) bool { return m.Name == name }); i >= 0 {
			members = append(members, o.published[i]) // its record is gone or bad: keep what agents know
		}
	}
	same := slices.Equal(members, o.published)
	o.mu.Unlock()
	if same {
		return
	}
	if err := o.publish(ctx, members); err != nil {
		o.Log.Error(err, "Publishing the witness membership")
		return
	}
	o.mu.Lock()
	o.membership, o.published = next, members
	o.mu.Unlock()
	if changed {
		o.Log.Info("Witness membership changed", "members", next.Members)
	}
	select {
	case o.Changes <- event.GenericEvent{Object: &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: o.Namespace, Name: MembershipName}}}:
	default: // the mirrors are looked at again on their own
	}
}

func (o *Observer) nodeExists(ctx context.Context, node string) bool {
	err := o.Client.Get(ctx, client.ObjectKey{Name: node}, &corev1.Node{})
	return err == nil || !apierrors.IsNotFound(err)
}

func (o *Observer) publish(ctx context.Context, members []witness.Member) error {
	data, err := json.Marshal(members)
	if err != nil {
		return err
	}
	// Read past the cache, as loadMembership does; a membership change is
	// rare (a witness joins or leaves), so the GET costs nothing that
	// matters.
	key := client.ObjectKey{Namespace: o.Namespace, Name: MembershipName}
	cm := &corev1.ConfigMap{}
	switch err := o.Reader.Get(ctx, key, cm); {
	case apierrors.IsNotFound(err):
		cm = &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: key.Namespace, Name: key.Name}, Data: map[string]string{witness.MembersKey: string(data)}}
		if err := o.Client.Create(ctx, cm); err != nil {
			return fmt.Errorf("creating the witness membership %s: %w", key, err)
		}
		return nil
	case err != nil:
		return fmt.Errorf("reading the witness membership %s: %w", key, err)
	}
	cm.Data = map[string]string{witness.MembersKey: string(data)}
	if err := o.Client.Update(ctx, cm); err != nil {
		return fmt.Errorf("updating the witness membership %s: %w", key, err)
	}
	return nil
}

// Judge is the witnesses' judgement for an instance with this Lease
// duration, at now.
func (o *Observer) Judge(now time.Time, leaseDuration, skew time.Duration) quorum.Judgement {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.judgeLocked(now, leaseDuration, skew)
}

func (o *Observer) judgeLocked(now time.Time, leaseDuration, skew time.Duration) quorum.Judgement {
	var recs []quorum.Record
	for _, s := range o.records {
		recs = append(recs, s.record)
	}
	return quorum.Judge(o.Timing, now, o.membership.Members, o.reads, recs, leaseDuration, skew)
}

// ReadsSince is when the operator's reads of the records last resumed
// after a gap (or it started): a Lease window may not start before it.
func (o *Observer) ReadsSince() time.Time {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.readsSince
}

// Members is the published list.
func (o *Observer) Members() []witness.Member {
	o.mu.Lock()
	defer o.mu.Unlock()
	return slices.Clone(o.published)
}

// NewObserver is an Observer with the protocol's timing, reading through
// mgr's API reader.
func NewObserver(mgr interface {
	GetAPIReader() client.Reader
	GetClient() client.Client
}, namespace string, skew time.Duration, log logr.Logger) *Observer {
	longest := time.Duration(maxLeaseSeconds) * time.Second
	return &Observer{
		Reader: mgr.GetAPIReader(), Client: mgr.GetClient(), Namespace: namespace,
		Timing: quorum.DefaultTiming(), Quiet: quorum.QuietPeriod(longest, skew, AgentRefresh),
		Skew: skew, LongestLease: longest, Clock: clock.RealClock{}, Log: log,
		Changes: make(chan event.GenericEvent, 1),
	}
}

// maxLeaseSeconds is the CRD's maximum spec.failover.leaseDurationSeconds.
const maxLeaseSeconds = 300
