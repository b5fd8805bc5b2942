package status

import (
	"bytes"
	"cmp"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/duration"
)

// Text draws the view for a terminal: a headline, then one block per
// concern, tables aligned the way kubectl aligns them.
func Text(w io.Writer, v View) error {
	var b bytes.Buffer
	t := &textWriter{b: &b, now: v.ObservedAt}
	t.instance(v)
	t.conditions(v.Conditions)
	t.pods(v.Pods)
	t.volume(v.Volume)
	t.lease(v.Lease)
	t.failover(v.LastFailover)
	t.backups(v.Backups)
	t.events(v.Events)
	t.unreadable(v.Unreadable)
	_, err := w.Write(b.Bytes())
	return err
}

type textWriter struct {
	b   *bytes.Buffer
	now time.Time
}

func (t *textWriter) line(format string, args ...any) { fmt.Fprintf(t.b, format+"\n", args...) }

// table writes rows (tab-separated cells) aligned, indented by two spaces.
func (t *textWriter) table(rows ...string) {
	var buf bytes.Buffer
	tw := tabwriter.NewWriter(&buf, 0, 0, 2, ' ', 0)
	for _, r := range rows {
		fmt.Fprintln(tw, "  "+r)
	}
	_ = tw.Flush()
	// An empty last cell leaves the padding of its column behind.
	for line := range strings.Lines(buf.String()) {
		t.b.WriteString(strings.TrimRight(line, " \n") + "\n")
	}
}

func (t *textWriter) section(title string) { t.line("\n%s", title) }

// age is how long ago at was, kubectl style ("45s", "5m", "3h").
func (t *textWriter) age(at time.Time) string {
	if at.IsZero() {
		return "-"
	}
	return duration.HumanDuration(max(t.now.Sub(at), 0))
}

func seconds(s float64) string { return strconv.FormatFloat(s, 'f', 1, 64) + " s" }

func (t *textWriter) instance(v View) {
	i := v.Instance
	t.line("IrisInstance %s/%s: %s", i.Namespace, i.Name, cmp.Or(i.Phase, "Unknown"))
	t.line("  %s", i.Summary)
	t.line("  image     %s", i.Image)
	failovers := "no failover yet"
	if i.Failovers == 1 {
		failovers = "1 failover"
	} else if i.Failovers > 1 {
		failovers = fmt.Sprintf("%d failovers", i.Failovers)
	}
	t.line("  failover  mode %s, Lease %d s, fencing verdict %s, %s", cmp.Or(i.FailoverMode, "-"), i.LeaseDurationSeconds, cmp.Or(i.Fencing, "-"), failovers)
	t.line("  age       %s", t.age(i.CreatedAt))
}

func (t *textWriter) conditions(cs []ConditionView) {
	t.section("Conditions")
	if len(cs) == 0 {
		t.line("  none reported yet")
		return
	}
	rows := []string{"TYPE\tSTATUS\tREASON\tSINCE\tMESSAGE"}
	for _, c := range cs {
		rows = append(rows, strings.Join([]string{c.Type, c.Status, c.Reason, t.age(c.LastTransitionTime), c.Message}, "\t"))
	}
	t.table(rows...)
}

func (t *textWriter) pods(ps []PodView) {
	t.section("Pods")
	if len(ps) == 0 {
		t.line("  none")
		return
	}
	rows := []string{"NAME\tSTATUS\tREADY\tRESTARTS\tNODE\tZONE\tAGE"}
	for _, p := range ps {
		name := p.Name
		if p.Current {
			name += " (current)"
		}
		status := p.Phase
		if p.Waiting != "" {
			status += ", " + p.Waiting
		}
		rows = append(rows, strings.Join([]string{name, status, strconv.FormatBool(p.Ready), strconv.Itoa(int(p.Restarts)), cmp.Or(p.Node, "-"), cmp.Or(p.Zone, "-"), t.age(p.CreatedAt)}, "\t"))
	}
	t.table(rows...)
}

func (t *textWriter) volume(v VolumeView) {
	t.section("Volume")
	pvc := "PVC " + v.PVC
	switch {
	case v.Phase == "":
		pvc += " (not found)"
	case v.Volume != "":
		pvc += fmt.Sprintf(" (%s, volume %s)", v.Phase, v.Volume)
	default:
		pvc += fmt.Sprintf(" (%s)", v.Phase)
	}
	if len(v.AccessModes) > 0 {
		pvc += ", " + strings.Join(v.AccessModes, ", ")
	}
	t.line("  %s", pvc)
	class := "class " + cmp.Or(v.StorageClass, "(the cluster's default)")
	if v.Provisioner != "" {
		class += ", provisioner " + v.Provisioner
	}
	if v.AllowExpansion != nil {
		if *v.AllowExpansion {
			class += ", may grow"
		} else {
			class += ", cannot grow (allowVolumeExpansion is false)"
		}
	}
	t.line("  %s", class)
	used := "usage unknown"
	if u := v.Usage; u != nil {
		used = fmt.Sprintf("used %s of %s (%.0f %%, from the %s, %s ago)",
			bytesString(u.UsedBytes), bytesString(u.CapacityBytes), u.UsedPercent, u.Source, t.age(u.ObservedAt))
	}
	size := fmt.Sprintf("%s requested, %s capacity", cmp.Or(v.Requested, "-"), cmp.Or(v.Capacity, "-"))
	if v.Growing {
		size += " (growing: the resize is not done yet)"
	}
	t.line("  size      %s, %s", size, used)
}

func bytesString(n int64) string {
	return resource.NewQuantity(n, resource.BinarySI).String()
}

func (t *textWriter) lease(l *LeaseView) {
	if l == nil {
		t.section("Fencing Lease")
		t.line("  not found: no agent has started yet, or the operator has not created it")
		return
	}
	t.section("Fencing Lease " + l.Name)
	holder := "nobody (free: the next agent takes it at once)"
	if l.Holder != "" {
		holder = l.Holder
	}
	t.line("  holder    %s", holder)
	if !l.RenewedAt.IsZero() {
		state := "valid"
		switch {
		case l.Holder == "":
			state = "not held"
		case l.Expired:
			state = "EXPIRED"
		}
		t.line("  renewed   %s ago, duration %d s: %s", seconds(l.SinceRenewalSeconds), l.DurationSeconds, state)
	}
	t.line("  acquired  %s ago, %d transitions", t.age(l.AcquiredAt), l.Transitions)
	if len(l.FencedHolders) > 0 {
		t.line("  fenced    %s (never to hold it again)", strings.Join(l.FencedHolders, ", "))
	}
}

func (t *textWriter) failover(f *FailoverView) {
	if f == nil {
		return
	}
	title := "Last failover: "
	switch f.State {
	case FailoverCompleted:
		title += "completed in " + f.Seconds + " s"
	case FailoverAbandoned:
		title += "abandoned (the old pod's agent renewed its Lease: its node came back)"
	default:
		title += "IN PROGRESS for " + seconds(f.ElapsedSeconds)
	}
	t.section(title)
	rows := []string{"STEP\tAT\tAFTER\tDETAIL"}
	for _, s := range f.Steps {
		rows = append(rows, strings.Join([]string{s.Step, s.At.UTC().Format("2006-01-02T15:04:05.000Z07:00"), "+" + strconv.FormatFloat(s.AfterSeconds, 'f', 3, 64) + " s", s.Detail}, "\t"))
	}
	t.table(rows...)
}

func (t *textWriter) backups(bs []BackupView) {
	t.section(fmt.Sprintf("Backups (newest %d)", maxBackups))
	if len(bs) == 0 {
		t.line("  none")
		return
	}
	rows := []string{"NAME\tPHASE\tAGE\tFROZEN\tMESSAGE"}
	for _, b := range bs {
		frozen := "-"
		if b.FrozenAt != nil && b.ThawedAt != nil {
			frozen = seconds(b.ThawedAt.Sub(*b.FrozenAt).Seconds())
		} else if b.FrozenAt != nil {
			frozen = "since " + t.age(*b.FrozenAt)
		}
		rows = append(rows, strings.Join([]string{b.Name, b.Phase, t.age(b.CreatedAt), frozen, b.Message}, "\t"))
	}
	t.table(rows...)
}

func (t *textWriter) events(es []EventView) {
	t.section("Events (recent)")
	if len(es) == 0 {
		t.line("  none")
		return
	}
	rows := []string{"AGE\tTYPE\tREASON\tOBJECT\tMESSAGE"}
	for _, e := range es {
		age := t.age(e.LastSeen)
		if e.Count > 1 {
			age += fmt.Sprintf(" (x%d)", e.Count)
		}
		rows = append(rows, strings.Join([]string{age, e.Type, e.Reason, e.Object, e.Message}, "\t"))
	}
	t.table(rows...)
}

func (t *textWriter) unreadable(us []Unreadable) {
	if len(us) == 0 {
		return
	}
	t.section("Could not read")
	for _, u := range us {
		t.line("  %s: %s", u.What, u.Error)
	}
}
