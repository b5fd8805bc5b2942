package status

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/irisha/irisha/api/v1alpha1"
	"github.com/irisha/irisha/internal/fencing"
	"github.com/irisha/irisha/internal/resources"
)

// How much of the history the screen keeps.
const (
	maxBackups = 3
	maxEvents  = 10
)

// View is what status shows: the facts of a Snapshot, computed. -o json and
// -o yaml print it as is, so its field names are an interface: add to it,
// do not rename.
type View struct {
	ObservedAt   time.Time       `json:"observedAt"`
	Instance     InstanceView    `json:"instance"`
	Conditions   []ConditionView `json:"conditions"`
	Pods         []PodView       `json:"pods"`
	Volume       VolumeView      `json:"volume"`
	Lease        *LeaseView      `json:"fencingLease,omitempty"`
	LastFailover *FailoverView   `json:"lastFailover,omitempty"`
	Backups      []BackupView    `json:"backups"`
	Events       []EventView     `json:"events"`
	Unreadable   []Unreadable    `json:"unreadable,omitempty"`
}

// InstanceView is the instance itself.
type InstanceView struct {
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	Phase     string `json:"phase"`
	// Summary is the one line that matters most now.
	Summary              string    `json:"summary"`
	Image                string    `json:"image"`
	FailoverMode         string    `json:"failoverMode"`
	LeaseDurationSeconds int32     `json:"leaseDurationSeconds"`
	Fencing              string    `json:"fencing,omitempty"`
	Failovers            int32     `json:"failovers"`
	Pod                  string    `json:"pod,omitempty"`
	Node                 string    `json:"node,omitempty"`
	CreatedAt            time.Time `json:"createdAt"`
}

// ConditionView is one status condition.
type ConditionView struct {
	Type               string    `json:"type"`
	Status             string    `json:"status"`
	Reason             string    `json:"reason"`
	Message            string    `json:"message,omitempty"`
	LastTransitionTime time.Time `json:"lastTransitionTime"`
}

// PodView is one pod of the instance.
type PodView struct {
	Name string `json:"name"`
	// Current: the pod the instance's status names, the one running IRIS.
	Current bool   `json:"current"`
	Phase   string `json:"phase"`
	Ready   bool   `json:"ready"`
	// Waiting is a container's waiting reason (ImagePullBackOff, ...).
	Waiting   string    `json:"waiting,omitempty"`
	Restarts  int32     `json:"restarts"`
	Node      string    `json:"node,omitempty"`
	Zone      string    `json:"zone,omitempty"`
	CreatedAt time.Time `json:"createdAt"`
}

// VolumeView is the durable %SYS volume.
type VolumeView struct {
	PVC            string   `json:"pvc"`
	Phase          string   `json:"phase,omitempty"`
	Volume         string   `json:"volume,omitempty"`
	StorageClass   string   `json:"storageClass,omitempty"`
	Provisioner    string   `json:"provisioner,omitempty"`
	AllowExpansion *bool    `json:"allowExpansion,omitempty"`
	AccessModes    []string `json:"accessModes,omitempty"`
	Requested      string   `json:"requested,omitempty"`
	Capacity       string   `json:"capacity,omitempty"`
	// Growing: more is requested than the volume has, a resize under way
	// (or waiting for the driver).
	Growing bool       `json:"growing,omitempty"`
	Usage   *UsageView `json:"usage,omitempty"`
}

// UsageView is how full the volume is; absent when unknown.
type UsageView struct {
	VolumeUsage
	UsedPercent float64 `json:"usedPercent"`
}

// LeaseView is the instance's fencing Lease: who may run IRIS.
type LeaseView struct {
	Name            string    `json:"name"`
	Holder          string    `json:"holder,omitempty"`
	DurationSeconds int32     `json:"durationSeconds"`
	AcquiredAt      time.Time `json:"acquiredAt,omitzero"`
	RenewedAt       time.Time `json:"renewedAt,omitzero"`
	// SinceRenewalSeconds is ObservedAt - RenewedAt.
	SinceRenewalSeconds float64 `json:"sinceRenewalSeconds,omitempty"`
	// Expired: held, and not renewed for longer than its duration.
	Expired       bool     `json:"expired"`
	Transitions   int32    `json:"transitions"`
	FencedHolders []string `json:"fencedHolders,omitempty"`
}

// Failover states.
const (
	FailoverInProgress = "InProgress"
	FailoverCompleted  = "Completed"
	FailoverAbandoned  = "Abandoned"
)

// FailoverView is the instance's last failover, step by step.
type FailoverView struct {
	State  string `json:"state"`
	Reason string `json:"reason"`
	Pod    string `json:"pod"`
	Node   string `json:"node"`
	// Seconds from declared dead to a replacement Ready, as the operator
	// recorded it.
	Seconds string `json:"seconds,omitempty"`
	// ElapsedSeconds since it was declared dead, while in progress.
	ElapsedSeconds float64    `json:"elapsedSeconds,omitempty"`
	Steps          []StepView `json:"steps"`
}

// StepView is one step of a failover.
type StepView struct {
	Step         string    `json:"step"`
	At           time.Time `json:"at"`
	AfterSeconds float64   `json:"afterSeconds"`
	Detail       string    `json:"detail,omitempty"`
}

// Steps a failover record marks itself (fencing's actions are the others).
const (
	StepDeclaredDead = "DeclaredDead"
	StepFenced       = "Fenced"
	StepReady        = "Ready"
	StepAbandoned    = "Abandoned"
)

// BackupView is one IrisBackup of the instance.
type BackupView struct {
	Name      string     `json:"name"`
	Phase     string     `json:"phase"`
	Message   string     `json:"message,omitempty"`
	CreatedAt time.Time  `json:"createdAt"`
	FrozenAt  *time.Time `json:"frozenAt,omitempty"`
	ThawedAt  *time.Time `json:"thawedAt,omitempty"`
}

// EventView is one Event about the instance or its objects.
type EventView struct {
	Type     string    `json:"type"`
	Reason   string    `json:"reason"`
	Object   string    `json:"object"`
	Message  string    `json:"message"`
	Count    int32     `json:"count"`
	LastSeen time.Time `json:"lastSeen"`
}

// Build computes the view of a snapshot. It is pure.
func Build(s *Snapshot) View {
	inst := s.Instance
	v := View{
		ObservedAt: s.Now,
		Instance: InstanceView{
			Namespace:            inst.Namespace,
			Name:                 inst.Name,
			Phase:                string(inst.Status.Phase),
			Image:                inst.Spec.Image,
			FailoverMode:         string(inst.Spec.Failover.Mode),
			LeaseDurationSeconds: inst.Spec.Failover.LeaseDurationSeconds,
			Fencing:              string(inst.Status.Fencing),
			Failovers:            inst.Status.Failovers,
			Pod:                  inst.Status.Pod,
			Node:                 inst.Status.Node,
			CreatedAt:            inst.CreationTimestamp.Time,
		},
		Conditions: conditions(inst),
		Pods:       pods(s),
		Volume:     volume(s),
		Lease:      lease(s.Lease, s.Now),
		Backups:    backups(inst, s.Backups),
		Events:     events(inst, s),
		Unreadable: s.Unreadable,
	}
	v.LastFailover = failover(inst.Status.LastFailover, s)
	v.Instance.Summary = summary(v, inst)
	return v
}

func conditions(inst *v1alpha1.IrisInstance) []ConditionView {
	out := []ConditionView{}
	for _, c := range inst.Status.Conditions {
		out = append(out, ConditionView{Type: c.Type, Status: string(c.Status), Reason: c.Reason, Message: c.Message, LastTransitionTime: c.LastTransitionTime.Time})
	}
	return out
}

// pods lists the current pod first, then the others newest first.
func pods(s *Snapshot) []PodView {
	out := []PodView{}
	for _, p := range s.Pods {
		pv := PodView{
			Name:      p.Name,
			Current:   p.Name == s.Instance.Status.Pod,
			Phase:     string(p.Status.Phase),
			Ready:     resources.PodReady(&p),
			Node:      p.Spec.NodeName,
			CreatedAt: p.CreationTimestamp.Time,
		}
		if pv.Phase == "" {
			pv.Phase = string(corev1.PodPending)
		}
		if p.DeletionTimestamp != nil {
			pv.Phase = "Terminating"
		}
		for _, cs := range slices.Concat(p.Status.InitContainerStatuses, p.Status.ContainerStatuses) {
			pv.Restarts += cs.RestartCount
			if w := cs.State.Waiting; w != nil && w.Reason != "" && pv.Waiting == "" {
				pv.Waiting = w.Reason
			}
		}
		if n := s.Nodes[p.Spec.NodeName]; n != nil {
			pv.Zone = n.Labels[corev1.LabelTopologyZone]
		}
		out = append(out, pv)
	}
	slices.SortStableFunc(out, func(a, b PodView) int {
		if a.Current != b.Current {
			if a.Current {
				return -1
			}
			return 1
		}
		return cmp.Or(b.CreatedAt.Compare(a.CreatedAt), strings.Compare(a.Name, b.Name))
	})
	return out
}

func volume(s *Snapshot) VolumeView {
	inst := s.Instance
	v := VolumeView{PVC: cmp.Or(inst.Status.PVC, resources.PVCName(inst))}
	if c := inst.Spec.Storage.ClassName; c != nil {
		v.StorageClass = *c
	}
	v.Requested = inst.Spec.Storage.Size.String()
	if inst.Status.Capacity != nil {
		v.Capacity = inst.Status.Capacity.String()
	}
	if pvc := s.PVC; pvc != nil {
		v.PVC, v.Phase, v.Volume = pvc.Name, string(pvc.Status.Phase), pvc.Spec.VolumeName
		if c := pvc.Spec.StorageClassName; c != nil {
			v.StorageClass = *c
		}
		if q, ok := pvc.Spec.Resources.Requests[corev1.ResourceStorage]; ok {
			v.Requested = q.String()
		}
		if q, ok := pvc.Status.Capacity[corev1.ResourceStorage]; ok {
			v.Capacity = q.String()
		}
		req, reqOK := pvc.Spec.Resources.Requests[corev1.ResourceStorage]
		capacity, capOK := pvc.Status.Capacity[corev1.ResourceStorage]
		v.Growing = reqOK && capOK && req.Cmp(capacity) > 0
		for _, m := range pvc.Spec.AccessModes {
			v.AccessModes = append(v.AccessModes, string(m))
		}
	}
	if sc := s.StorageClass; sc != nil {
		v.Provisioner, v.AllowExpansion = sc.Provisioner, sc.AllowVolumeExpansion
	}
	if u := s.Usage; u != nil {
		uv := &UsageView{VolumeUsage: *u}
		if u.CapacityBytes > 0 {
			uv.UsedPercent = float64(u.UsedBytes) * 100 / float64(u.CapacityBytes)
		}
		v.Usage = uv
	}
	return v
}

func lease(l *coordinationv1.Lease, now time.Time) *LeaseView {
	if l == nil {
		return nil
	}
	v := &LeaseView{Name: l.Name}
	if h := l.Spec.HolderIdentity; h != nil {
		v.Holder = *h
	}
	if d := l.Spec.LeaseDurationSeconds; d != nil {
		v.DurationSeconds = *d
	}
	if t := l.Spec.AcquireTime; t != nil {
		v.AcquiredAt = t.Time
	}
	if t := l.Spec.RenewTime; t != nil {
		v.RenewedAt = t.Time
		v.SinceRenewalSeconds = now.Sub(t.Time).Seconds()
		v.Expired = v.Holder != "" && now.After(t.Add(time.Duration(v.DurationSeconds)*time.Second))
	}
	if t := l.Spec.LeaseTransitions; t != nil {
		v.Transitions = *t
	}
	v.FencedHolders = v1alpha1.FencedHolders(l.Annotations)
	return v
}

// fencingSteps are the Event reasons of the failover controller's steps
// (it names each Event after its action).
var fencingSteps = map[string]bool{
	string(fencing.Cordon): true, string(fencing.TaintOutOfService): true, string(fencing.ForceDeletePod): true,
	string(fencing.ClearLease): true, string(fencing.DeleteAttachment): true, string(fencing.ReleaseVolume): true,
}

func failover(rec *v1alpha1.FailoverRecord, s *Snapshot) *FailoverView {
	if rec == nil {
		return nil
	}
	v := &FailoverView{Reason: rec.Reason, Pod: rec.Pod, Node: rec.Node, Seconds: rec.Seconds, State: FailoverInProgress}
	switch {
	case rec.Abandoned:
		v.State = FailoverAbandoned
	case rec.ReadyAt != nil:
		v.State = FailoverCompleted
	default:
		v.ElapsedSeconds = s.Now.Sub(rec.DetectedAt.Time).Seconds()
	}
	start := rec.DetectedAt.Time
	step := func(name string, at time.Time, detail string) {
		v.Steps = append(v.Steps, StepView{Step: name, At: at, AfterSeconds: at.Sub(start).Seconds(), Detail: detail})
	}
	step(StepDeclaredDead, start, fmt.Sprintf("%s: pod %s on node %s", rec.Reason, rec.Pod, rec.Node))
	for _, e := range s.Events {
		at := eventTime(&e)
		about := e.InvolvedObject.Kind == "IrisInstance" && e.InvolvedObject.Name == s.Instance.Name
		if about && fencingSteps[e.Reason] && !at.Before(start) {
			step(e.Reason, at, e.Message)
		}
		if about && rec.Abandoned && e.Reason == "FailoverAbandoned" && !at.Before(start) {
			step(StepAbandoned, at, e.Message)
		}
	}
	if rec.FencedAt != nil {
		step(StepFenced, rec.FencedAt.Time, "the old pod and its volume attachment are gone")
	}
	if rec.ReadyAt != nil {
		step(StepReady, rec.ReadyAt.Time, "a replacement pod is Ready")
	}
	slices.SortStableFunc(v.Steps, func(a, b StepView) int { return a.At.Compare(b.At) })
	return v
}

// backups are the instance's newest backups, newest first.
func backups(inst *v1alpha1.IrisInstance, all []v1alpha1.IrisBackup) []BackupView {
	mine := slices.DeleteFunc(slices.Clone(all), func(b v1alpha1.IrisBackup) bool { return b.Spec.InstanceName != inst.Name })
	slices.SortFunc(mine, func(a, b v1alpha1.IrisBackup) int {
		return cmp.Or(b.CreationTimestamp.Time.Compare(a.CreationTimestamp.Time), strings.Compare(a.Name, b.Name))
	})
	out := []BackupView{}
	for _, b := range mine[:min(len(mine), maxBackups)] {
		bv := BackupView{Name: b.Name, Phase: string(b.Status.Phase), Message: b.Status.Message, CreatedAt: b.CreationTimestamp.Time}
		if bv.Phase == "" {
			bv.Phase = string(v1alpha1.BackupPending)
		}
		bv.FrozenAt, bv.ThawedAt = timePtr(b.Status.FrozenAt), timePtr(b.Status.ThawedAt)
		out = append(out, bv)
	}
	return out
}

func timePtr(t *metav1.MicroTime) *time.Time {
	if t == nil {
		return nil
	}
	return &t.Time
}

// events are the newest Events about the instance and its objects, oldest
// first, the way kubectl lists them.
func events(inst *v1alpha1.IrisInstance, s *Snapshot) []EventView {
	related := map[objectRef]bool{}
	for _, r := range relatedObjects(inst, s.Pods) {
		related[r] = true
	}
	out := []EventView{}
	for _, e := range s.Events {
		if !related[objectRef{e.InvolvedObject.Kind, e.InvolvedObject.Name}] {
			continue
		}
		count := e.Count
		if e.Series != nil {
			count = e.Series.Count
		}
		out = append(out, EventView{
			Type: e.Type, Reason: e.Reason, Object: e.InvolvedObject.Kind + "/" + e.InvolvedObject.Name,
			Message: strings.TrimSpace(e.Message), Count: max(count, 1), LastSeen: eventTime(&e),
		})
	}
	slices.SortStableFunc(out, func(a, b EventView) int { return a.LastSeen.Compare(b.LastSeen) })
	return out[max(0, len(out)-maxEvents):]
}

// eventTime is when an Event last happened, whichever API wrote it: the
// events.k8s.io recorder (the operator's) sets eventTime and series, the
// core one (kubelets, controllers) the timestamps.
func eventTime(e *corev1.Event) time.Time {
	switch {
	case e.Series != nil && !e.Series.LastObservedTime.IsZero():
		return e.Series.LastObservedTime.Time
	case !e.LastTimestamp.IsZero():
		return e.LastTimestamp.Time
	case !e.EventTime.IsZero():
		return e.EventTime.Time
	case !e.FirstTimestamp.IsZero():
		return e.FirstTimestamp.Time
	}
	return e.CreationTimestamp.Time
}

// summary is the headline: a failover in progress first, then what stops
// the instance, then that it is fine.
func summary(v View, inst *v1alpha1.IrisInstance) string {
	conds := inst.Status.Conditions
	if f := v.LastFailover; f != nil && f.State == FailoverInProgress {
		state := "fencing the old pod"
		if inst.Status.LastFailover.FencedAt != nil {
			state = "fenced; waiting for a replacement to be Ready"
		}
		return fmt.Sprintf("Failing over for %.1f s: pod %s on node %s declared dead (%s); %s", f.ElapsedSeconds, f.Pod, f.Node, f.Reason, state)
	}
	if c := meta.FindStatusCondition(conds, v1alpha1.ConditionFailoverHeld); c != nil && c.Status == metav1.ConditionTrue {
		return "Failover held: " + c.Message
	}
	if c := meta.FindStatusCondition(conds, v1alpha1.ConditionDegraded); c != nil && c.Status == metav1.ConditionTrue {
		return fmt.Sprintf("Degraded (%s): %s", c.Reason, c.Message)
	}
	ready := meta.FindStatusCondition(conds, v1alpha1.ConditionReady)
	if ready != nil && ready.Status == metav1.ConditionTrue {
		where := ready.Message
		if len(v.Pods) > 0 && v.Pods[0].Current && v.Pods[0].Zone != "" {
			where += " (zone " + v.Pods[0].Zone + ")"
		}
		if l := v.Lease; l != nil && l.Expired {
			return fmt.Sprintf("Ready, but the fencing Lease expired %.1f s ago: %s", l.SinceRenewalSeconds-float64(l.DurationSeconds), where)
		}
		return "Healthy: " + where
	}
	if ready != nil {
		return fmt.Sprintf("%s: %s", cmp.Or(v.Instance.Phase, "Unknown"), ready.Message)
	}
	return cmp.Or(v.Instance.Phase, "Unknown") + ": the operator has not reported on the instance yet"
}
