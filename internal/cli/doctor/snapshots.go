package doctor

import (
	"fmt"
	"slices"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
)

// annDefaultSnapshotClass marks a driver's default VolumeSnapshotClass.
const annDefaultSnapshotClass = "snapshot.storage.kubernetes.io/is-default-class"

// snapshotResources are what IrisBackup and restore use.
var snapshotResources = []string{"volumesnapshots", "volumesnapshotcontents", "volumesnapshotclasses"}

// SnapshotAPIRule: irisha's backups are VolumeSnapshots.
func SnapshotAPIRule(s *Snapshot) []Finding {
	f := Finding{Check: "snapshots.api", Area: AreaSnapshots}
	if why := s.unreadable("api " + gvSnapshots); why != "" {
		return []Finding{unreadableFinding(f.Check, f.Area, "the "+gvSnapshots+" API", why)}
	}
	var missing []string
	for _, r := range snapshotResources {
		if !s.served(gvSnapshots, r) {
			missing = append(missing, r)
		}
	}
	if len(missing) == 0 {
		f.Severity, f.Summary = OK, "the VolumeSnapshot API is served ("+gvSnapshots+")"
		return []Finding{f}
	}
	f.Severity = Warning
	f.Summary = "the VolumeSnapshot API is not served: no " + strings.Join(missing, ", ") + " in " + gvSnapshots
	f.Breaks = "IrisBackups fail and restores are impossible (HA itself is not affected)"
	f.Fix = "install external-snapshotter's CRDs and snapshot-controller, at the version of your CSI driver's snapshotter sidecar (kubectl kustomize https://github.com/kubernetes-csi/external-snapshotter/client/config/crd | kubectl create -f -, then deploy/kubernetes/snapshot-controller)"
	return []Finding{f}
}

// isSnapshotController reports whether d runs external-snapshotter's
// common snapshot-controller (not the csi-snapshotter sidecar that each
// driver runs next to its controller).
func isSnapshotController(d *appsv1.Deployment) bool {
	for _, c := range d.Spec.Template.Spec.Containers {
		if strings.Contains(c.Image, "/snapshot-controller:") || strings.HasPrefix(c.Image, "snapshot-controller:") {
			return true
		}
	}
	return false
}

// SnapshotControllerRule decides whether a snapshot controller runs, from
// the best evidence first: its leader election Lease
// (snapshot-controller-leader, renewed recently); else a Deployment of its
// image (registry.k8s.io/sig-storage/snapshot-controller) with a Ready
// replica; else a VolumeSnapshot it bound to a content (managed clusters,
// GKE among them, run the controller out of sight). With none of them it
// warns: it cannot tell "absent" from "hidden".
func SnapshotControllerRule(s *Snapshot) []Finding {
	if !s.served(gvSnapshots, "volumesnapshots") {
		return nil // SnapshotAPIRule says so
	}
	f := Finding{Check: "snapshots.controller", Area: AreaSnapshots}
	if l := freshLease(s, leaseSnapshotController); l != nil {
		f.Severity = OK
		f.Summary = fmt.Sprintf("a snapshot controller runs: %s holds Lease %s/%s, renewed %s", *l.Spec.HolderIdentity, l.Namespace, l.Name, ago(s.Now, l.Spec.RenewTime.Time))
		return []Finding{f}
	}
	var notReady []string
	for i := range s.Deployments {
		d := &s.Deployments[i]
		if !isSnapshotController(d) {
			continue
		}
		if d.Status.ReadyReplicas > 0 {
			f.Severity = OK
			f.Summary = fmt.Sprintf("a snapshot controller runs: Deployment %s/%s, %d ready", d.Namespace, d.Name, d.Status.ReadyReplicas)
			return []Finding{f}
		}
		notReady = append(notReady, d.Namespace+"/"+d.Name)
	}
	for _, vs := range s.VolumeSnapshots {
		if vs.Status != nil && vs.Status.BoundVolumeSnapshotContentName != nil {
			f.Severity = OK
			f.Summary = fmt.Sprintf("a snapshot controller has worked: VolumeSnapshot %s/%s is bound to %s (the controller itself is not visible: managed clusters run it in their control plane)",
				vs.Namespace, vs.Name, *vs.Status.BoundVolumeSnapshotContentName)
			return []Finding{f}
		}
	}
	f.Severity = Warning
	f.Breaks = "VolumeSnapshots stay unbound: IrisBackups never complete"
	if len(notReady) > 0 {
		f.Summary = "the snapshot controller is not ready: Deployment " + strings.Join(notReady, ", ")
		f.Fix = "kubectl describe the Deployment and read its pods' logs"
		return []Finding{f}
	}
	f.Summary = "no snapshot controller found (no fresh Lease " + leaseSnapshotController + ", no Deployment of the snapshot-controller image, no bound VolumeSnapshot)"
	if why := s.unreadable("deployments"); why != "" {
		f.Summary += "; deployments unreadable: " + why
	}
	f.Fix = "deploy external-snapshotter's snapshot-controller; where the provider runs it out of sight, take a test backup (irisha backup create) to be sure"
	return []Finding{f}
}

// SnapshotClassRule: the driver of each class in scope needs a
// VolumeSnapshotClass, exactly one of them the default (what IrisBackup
// picks without spec.volumeSnapshotClassName). For Longhorn, the class's
// type decides what a backup is: snap is an in-cluster snapshot, cut and
// ready at once; bak (also what an empty type means) uploads the volume to
// the backup target, ready only after the upload, and fails without one.
func SnapshotClassRule(s *Snapshot) []Finding {
	if !s.served(gvSnapshots, "volumesnapshotclasses") || s.hasUnreadable("storageclasses") {
		return nil
	}
	if why := s.unreadable("volumesnapshotclasses"); why != "" {
		return []Finding{unreadableFinding("snapshots.class", AreaSnapshots, "volumesnapshotclasses", why)}
	}
	scope, _ := classesInScope(s)
	var drivers []string
	for _, c := range scope {
		if c.Class != nil && !slices.Contains(drivers, c.Class.Provisioner) {
			drivers = append(drivers, c.Class.Provisioner)
		}
	}
	var out []Finding
	for _, driver := range drivers {
		f := Finding{Check: "snapshots.class", Area: AreaSnapshots, Subject: "driver/" + driver}
		var names, defaults []string
		for _, vsc := range s.VolumeSnapshotClasses {
			if vsc.Driver != driver {
				continue
			}
			names = append(names, vsc.Name)
			if vsc.Annotations[annDefaultSnapshotClass] == "true" {
				defaults = append(defaults, vsc.Name)
			}
		}
		switch {
		case len(names) == 0:
			f.Severity = Warning
			f.Summary = "no VolumeSnapshotClass for driver " + driver
			f.Breaks = "IrisBackups of its volumes fail (NoSnapshotClass)"
			f.Fix = "create a VolumeSnapshotClass for " + driver + " annotated " + annDefaultSnapshotClass + ": \"true\"" + longhornTypeHint(driver)
		case len(defaults) == 0:
			f.Severity = Warning
			f.Summary = fmt.Sprintf("VolumeSnapshotClasses of driver %s (%s), none of them the default", driver, strings.Join(names, ", "))
			f.Breaks = "an IrisBackup without spec.volumeSnapshotClassName fails"
			f.Fix = "annotate one " + annDefaultSnapshotClass + ": \"true\", or name it in each IrisBackup"
		case len(defaults) > 1:
			f.Severity = Warning
			f.Summary = fmt.Sprintf("driver %s has %d default VolumeSnapshotClasses: %s", driver, len(defaults), strings.Join(defaults, ", "))
			f.Breaks = "an IrisBackup without spec.volumeSnapshotClassName fails: irisha will not guess"
			f.Fix = "keep one default"
		default:
			f.Severity = OK
			f.Summary = fmt.Sprintf("VolumeSnapshotClass %s is the default of driver %s", defaults[0], driver)
		}
		out = append(out, f)
		if driver == LonghornDriver {
			out = append(out, longhornSnapshotTypes(s, defaults, names)...)
		}
	}
	return out
}

func longhornTypeHint(driver string) string {
	if driver != LonghornDriver {
		return ""
	}
	return " and parameters.type: snap (in-cluster, fast) or bak (uploaded to the backup target)"
}

// longhornSnapshotTypes judges the type parameter of Longhorn's default
// class (or of every class when there is no single default).
func longhornSnapshotTypes(s *Snapshot, defaults, names []string) []Finding {
	check := names
	if len(defaults) == 1 {
		check = defaults
	}
	var out []Finding
	for _, vsc := range s.VolumeSnapshotClasses {
		if !slices.Contains(check, vsc.Name) || vsc.Driver != LonghornDriver {
			continue
		}
		f := Finding{Check: "snapshots.longhorn-type", Area: AreaSnapshots, Subject: "volumesnapshotclass/" + vsc.Name}
		typ := vsc.Parameters["type"]
		noTarget := s.Longhorn != nil && s.Longhorn.BackupTargetURL != nil && *s.Longhorn.BackupTargetURL == ""
		switch typ {
		case "snap":
			f.Severity, f.Summary = OK, "VolumeSnapshotClass "+vsc.Name+": type snap, an in-cluster Longhorn snapshot, ready once cut"
		case "", "bak", "bs":
			f.Severity = Warning
			what := "type " + typ
			if typ == "" {
				what = "no type parameter, which Longhorn takes as bak"
			}
			f.Summary = "VolumeSnapshotClass " + vsc.Name + ": " + what + ": each snapshot uploads the volume to the backup target"
			f.Breaks = "a backup is ready only after the upload (minutes for a big volume); IRIS is thawed at the cut, but restores wait for it"
			if noTarget {
				f.Breaks = "Longhorn has no backup target: every snapshot of this class fails"
			}
			f.Fix = "parameters.type: snap for in-cluster snapshots; keep bak (set explicitly) only for off-cluster copies, with a backup target"
		case "bi":
			f.Severity = Warning
			f.Summary = "VolumeSnapshotClass " + vsc.Name + ": type bi makes backing images, not backups"
			f.Breaks = "IrisBackups make backing images"
			f.Fix = "parameters.type: snap (or bak)"
		default:
			f.Severity = Warning
			f.Summary = fmt.Sprintf("VolumeSnapshotClass %s: type %q, which Longhorn does not document", vsc.Name, typ)
			f.Fix = "parameters.type: snap (or bak)"
		}
		out = append(out, f)
	}
	return out
}
