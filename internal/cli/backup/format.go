package backup

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	snapshotv1 "github.com/kubernetes-csi/external-snapshotter/client/v8/apis/volumesnapshot/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/irisha/irisha/api/v1alpha1"
	"github.com/irisha/irisha/internal/cli/kube"
)

// newestFirst sorts backups by creation time, newest first; backups
// created in the same second by name, last first (names end in a UTC
// time stamp, so that is newest first too).
func newestFirst(items []v1alpha1.IrisBackup) {
	sort.SliceStable(items, func(i, j int) bool {
		a, b := &items[i], &items[j]
		if !a.CreationTimestamp.Equal(&b.CreationTimestamp) {
			return b.CreationTimestamp.Before(&a.CreationTimestamp)
		}
		if a.Namespace != b.Namespace {
			return a.Namespace < b.Namespace
		}
		return a.Name > b.Name
	})
}

// writeTable prints backups as `irisha backup list` does, in the order
// given; allNamespaces adds the NAMESPACE column.
func writeTable(w io.Writer, items []v1alpha1.IrisBackup, allNamespaces bool, now time.Time) error {
	headers := []string{"NAME", "INSTANCE", "PHASE", "FROZEN", "SNAPSHOT", "AGE", "REASON"}
	if allNamespaces {
		headers = append([]string{"NAMESPACE"}, headers...)
	}
	t := kube.NewTable(w, headers...)
	for i := range items {
		b := &items[i]
		row := []string{b.Name, b.Spec.InstanceName, string(b.Status.Phase), frozen(b.Status.FrozenSeconds),
			b.Status.SnapshotName, kube.Age(b.CreationTimestamp.Time, now), b.Status.Reason}
		if allNamespaces {
			row = append([]string{b.Namespace}, row...)
		}
		t.Row(row...)
	}
	return t.Flush()
}

func frozen(seconds string) string {
	if seconds == "" {
		return ""
	}
	return seconds + "s"
}

// progress is what a wait prints of a backup: its phase and message,
// and the reason of a failure. A backup the operator has not picked up
// yet has no phase.
type progress struct {
	phase           v1alpha1.BackupPhase
	reason, message string
}

func progressOf(b *v1alpha1.IrisBackup) progress {
	return progress{phase: b.Status.Phase, reason: b.Status.Reason, message: b.Status.Message}
}

// Line is one progress line: the time waited, the phase, what is going on.
func (p progress) Line(elapsed time.Duration) string {
	phase := string(p.phase)
	msg := p.message
	if phase == "" {
		phase = "Created"
		msg = "waiting for the irisha operator to start the backup"
	}
	if p.reason != "" {
		msg = p.reason + ": " + msg
	}
	return strings.TrimRight(fmt.Sprintf("%7s  %-12s  %s", kube.Elapsed(elapsed), phase, msg), " ")
}

// description is everything `irisha backup describe` shows of a backup;
// it is also the document of -o json and -o yaml.
type description struct {
	Backup *v1alpha1.IrisBackup `json:"backup"`
	// VolumeSnapshot is nil when there is none (yet), or it cannot be
	// read; VolumeSnapshotProblem then says why.
	VolumeSnapshot        *snapshotv1.VolumeSnapshot `json:"volumeSnapshot,omitempty"`
	VolumeSnapshotProblem string                     `json:"volumeSnapshotProblem,omitempty"`
	// Events of the backup, oldest first; EventsProblem says why they
	// could not be read.
	Events        []corev1.Event `json:"events"`
	EventsProblem string         `json:"eventsProblem,omitempty"`
}

// maxEvents is how many of a backup's events describe shows, the newest.
const maxEvents = 20

// writeDescription prints d the way kubectl describe prints objects.
func writeDescription(w io.Writer, d *description, now time.Time) error {
	b := d.Backup
	p := kube.NewDescriber(w)
	p.Field(0, "Name", b.Name)
	p.Field(0, "Namespace", b.Namespace)
	p.Field(0, "Instance", b.Spec.InstanceName)
	p.Field(0, "Created", fmt.Sprintf("%s (%s ago)", kube.Timestamp(b.CreationTimestamp.Time), kube.Age(b.CreationTimestamp.Time, now)))
	if l := b.Labels[v1alpha1.LabelScheduledBackup]; l != "" {
		p.Field(0, "Schedule", l)
	}
	p.Section(0, "Spec")
	consistency := "online (IRIS frozen while the snapshot is cut)"
	if !b.Spec.IsOnline() {
		consistency = "offline (crash-consistent, IRIS not frozen)"
	}
	p.Field(1, "Consistency", consistency)
	p.Field(1, "Snapshot class", orDefault(b.Spec.VolumeSnapshotClassName, "the default class of the volume's driver"))
	if b.Spec.MaxFrozenSeconds != 0 {
		p.Field(1, "Max frozen seconds", fmt.Sprint(b.Spec.MaxFrozenSeconds))
	}
	p.Field(1, "Snapshot deletion policy", orDefault(string(b.Spec.SnapshotDeletionPolicy), string(v1alpha1.SnapshotDelete)))

	s := &b.Status
	p.Section(0, "Status")
	p.Field(1, "Phase", orDefault(string(s.Phase), "- (the operator has not started the backup)"))
	p.Field(1, "Reason", s.Reason)
	p.Field(1, "Message", s.Message)
	p.Field(1, "Snapshot", s.SnapshotName)
	p.Field(1, "Snapshot class", s.VolumeSnapshotClassName)
	p.Field(1, "PVC", s.PVC)
	p.Field(1, "Pod", s.Pod)
	p.Field(1, "Started at", micro(s.StartedAt))
	p.Field(1, "Frozen at", micro(s.FrozenAt))
	p.Field(1, "Thaw deadline", micro(s.ThawDeadline))
	p.Field(1, "Snapshot cut at", micro(s.SnapshotCreatedAt))
	thawed := micro(s.ThawedAt)
	if s.ThawedBy != "" {
		thawed = orDefault(thawed, "-")
		thawed += " (" + thawCause(s.ThawedBy) + ")"
	}
	p.Field(1, "Thawed at", thawed)
	p.Field(1, "Frozen seconds", s.FrozenSeconds)
	p.Field(1, "Stopped at", micro(s.StoppedAt))

	p.Section(0, "Conditions")
	if len(s.Conditions) == 0 {
		p.Line(1, "<none>")
	} else {
		t := kube.NewTable(p.Indented(1), "TYPE", "STATUS", "REASON", "SINCE", "MESSAGE")
		for _, c := range s.Conditions {
			t.Row(c.Type, string(c.Status), c.Reason, kube.Timestamp(c.LastTransitionTime.Time), c.Message)
		}
		p.Fail(t.Flush())
	}

	writeSnapshot(p, s.SnapshotName, d)
	writeEvents(p, d, now)
	return p.Err()
}

func writeSnapshot(p *kube.Describer, name string, d *description) {
	vs := d.VolumeSnapshot
	switch {
	case vs == nil && d.VolumeSnapshotProblem != "":
		p.Field(0, "VolumeSnapshot", orDefault(name, "-")+" ("+d.VolumeSnapshotProblem+")")
		return
	case vs == nil:
		p.Field(0, "VolumeSnapshot", "- (not cut yet)")
		return
	}
	p.Section(0, "VolumeSnapshot")
	p.Field(1, "Name", vs.Name)
	class := ""
	if vs.Spec.VolumeSnapshotClassName != nil {
		class = *vs.Spec.VolumeSnapshotClassName
	}
	p.Field(1, "Class", class)
	source := ""
	if pvc := vs.Spec.Source.PersistentVolumeClaimName; pvc != nil {
		source = "PersistentVolumeClaim " + *pvc
	} else if c := vs.Spec.Source.VolumeSnapshotContentName; c != nil {
		source = "VolumeSnapshotContent " + *c
	}
	p.Field(1, "Source", source)
	st := vs.Status
	if st == nil {
		st = &snapshotv1.VolumeSnapshotStatus{}
	}
	ready := "false"
	if st.ReadyToUse != nil && *st.ReadyToUse {
		ready = "true"
	}
	p.Field(1, "Ready to use", ready)
	size := ""
	if st.RestoreSize != nil {
		size = st.RestoreSize.String()
	}
	p.Field(1, "Restore size", size)
	created := ""
	if st.CreationTime != nil {
		created = kube.Timestamp(st.CreationTime.Time)
	}
	p.Field(1, "Cut at", created)
	content := ""
	if st.BoundVolumeSnapshotContentName != nil {
		content = *st.BoundVolumeSnapshotContentName
	}
	p.Field(1, "Content", content)
	if st.Error != nil {
		msg := "(no message)"
		if st.Error.Message != nil {
			msg = *st.Error.Message
		}
		p.Field(1, "Error", msg)
	}
	var keys []string
	for k := range vs.Annotations {
		if strings.HasPrefix(k, "irisha.dev/") {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	p.Section(1, "Annotations")
	if len(keys) == 0 {
		p.Line(2, "<none>")
	}
	p.Map(2, vs.Annotations, keys)
}

func writeEvents(p *kube.Describer, d *description, now time.Time) {
	events := d.Events
	if d.EventsProblem != "" {
		p.Field(0, "Events", d.EventsProblem)
		return
	}
	p.Section(0, "Events")
	if len(events) == 0 {
		p.Line(1, "<none>")
		return
	}
	if n := len(events) - maxEvents; n > 0 {
		p.Line(1, fmt.Sprintf("(%d older events not shown)", n))
		events = events[n:]
	}
	t := kube.NewTable(p.Indented(1), "TYPE", "REASON", "AGE", "FROM", "MESSAGE")
	for i := range events {
		e := &events[i]
		age := kube.Age(eventTime(e), now)
		if n := eventCount(e); n > 1 {
			age = fmt.Sprintf("%s (x%d)", age, n)
		}
		t.Row(e.Type, e.Reason, age, eventSource(e), e.Message)
	}
	p.Fail(t.Flush())
}

// sortEvents orders events oldest first.
func sortEvents(events []corev1.Event) {
	sort.SliceStable(events, func(i, j int) bool { return eventTime(&events[i]).Before(eventTime(&events[j])) })
}

// eventTime is when an event was last seen, whichever API wrote it: an
// events.k8s.io recorder (the operator's) fills eventTime and series, a
// core one lastTimestamp.
func eventTime(e *corev1.Event) time.Time {
	switch {
	case e.Series != nil && !e.Series.LastObservedTime.IsZero():
		return e.Series.LastObservedTime.Time
	case !e.LastTimestamp.IsZero():
		return e.LastTimestamp.Time
	case !e.EventTime.IsZero():
		return e.EventTime.Time
	}
	return e.CreationTimestamp.Time
}

func eventCount(e *corev1.Event) int32 {
	if e.Series != nil {
		return e.Series.Count
	}
	return e.Count
}

func eventSource(e *corev1.Event) string {
	if e.ReportingController != "" {
		return e.ReportingController
	}
	return e.Source.Component
}

func thawCause(c v1alpha1.ThawCause) string {
	switch c {
	case v1alpha1.ThawRequested:
		return "on request"
	case v1alpha1.ThawDeadline:
		return "by the agent's deadline"
	case v1alpha1.ThawRestart:
		return "IRIS or its agent restarted"
	}
	return string(c)
}

func micro(t *metav1.MicroTime) string {
	if t == nil {
		return ""
	}
	return kube.Timestamp(t.Time)
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
