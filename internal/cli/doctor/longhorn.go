package doctor

import (
	"fmt"
	"strconv"
	"strings"

	utilversion "k8s.io/apimachinery/pkg/util/version"

	"github.com/irisha/irisha/api/v1alpha1"
)

// Longhorn settings doctor reads, with their documented defaults
// (longhorn/website content/docs/1.12.2/references/settings.md; names
// from longhorn-manager types/setting.go).
const (
	lhNodeDownPolicy   = "node-down-pod-deletion-policy"        // do-nothing
	lhSoftAntiAffinity = "replica-soft-anti-affinity"           // false
	lhDefaultReplicas  = "default-replica-count"                // 3
	lhOverProvisioning = "storage-over-provisioning-percentage" // 100
	lhNodeDrainPolicy  = "node-drain-policy"                    // block-if-contains-last-replica
	lhCurrentVersion   = "current-longhorn-version"             // set by Longhorn
)

var lhDefaults = map[string]string{
	lhNodeDownPolicy:   "do-nothing",
	lhSoftAntiAffinity: "false",
	lhDefaultReplicas:  strconv.Itoa(LonghornDefaultReplicas),
	lhOverProvisioning: "100",
	lhNodeDrainPolicy:  "block-if-contains-last-replica",
}

// setting returns a Longhorn setting's v1 value, or its default; def says
// which it was.
func (lh *Longhorn) setting(name string) (value string, def bool) {
	if raw, ok := lh.Settings[name]; ok {
		return settingV1(raw), false
	}
	return lhDefaults[name], true
}

func shown(v string, def bool) string {
	if def {
		return v + " (default)"
	}
	return v
}

// LonghornRule reads Longhorn's settings that matter for failover and
// backups, when Longhorn is installed (its settings.longhorn.io API).
func LonghornRule(s *Snapshot) []Finding {
	lh := s.Longhorn
	if lh == nil {
		if usesLonghorn(s) {
			return []Finding{{Check: "longhorn.settings", Area: AreaLonghorn, Severity: Warning,
				Summary: "classes use " + LonghornDriver + " but Longhorn's settings API (settings." + groupLH + ") is not served",
				Breaks:  "Longhorn's node-down, anti-affinity and over-provisioning settings were not checked",
				Fix:     "run doctor against the cluster where Longhorn runs, with rights to read settings." + groupLH}}
		}
		return nil
	}
	if why := s.unreadable("settings.longhorn.io"); why != "" {
		return []Finding{unreadableFinding("longhorn.settings", AreaLonghorn, "settings."+groupLH, why)}
	}
	out := []Finding{
		nodeDownPolicy(s, lh),
		softAntiAffinity(lh),
		defaultReplicas(lh),
		overProvisioning(lh),
		drainPolicy(lh),
	}
	if f, ok := longhornVersion(lh); ok {
		out = append(out, f)
	}
	out = append(out, replicaRoom(s, lh)...)
	return out
}

func usesLonghorn(s *Snapshot) bool {
	for _, sc := range s.StorageClasses {
		if sc.Provisioner == LonghornDriver {
			return true
		}
	}
	return false
}

func lhFinding(name string) Finding {
	return Finding{Check: "longhorn." + name, Area: AreaLonghorn, Subject: "setting/" + name}
}

// nodeDownPolicy: Longhorn's "Pod Deletion Policy When Node is Down" acts
// only after Kubernetes evicts the pod (about 6 minutes after the node
// loss) and does not fence. irisha's modes Lease and NodeShutdown fence and
// fail over long before; mode Off relies on it alone.
func nodeDownPolicy(s *Snapshot, lh *Longhorn) Finding {
	f := lhFinding(lhNodeDownPolicy)
	v, def := lh.setting(lhNodeDownPolicy)
	off := instancesUsing(s, v1alpha1.FailoverOff)
	f.Summary = lhNodeDownPolicy + " " + shown(v, def)
	switch {
	case len(off) > 0 && v == "do-nothing":
		f.Severity = Warning
		f.Summary += "; instances with failover mode Off: " + strings.Join(off, ", ")
		f.Breaks = "those instances never recover from a node loss on their own: the old pod stays Terminating and the volume attached to the dead node"
		f.Fix = "use failover mode Lease (irisha fences and fails over in seconds), or set the policy to delete-deployment-pod (about 6 minutes, without fencing)"
	case v == "do-nothing":
		f.Severity = OK
		f.Summary += ": irisha's failover (modes Lease, NodeShutdown) does not need Longhorn to delete pods"
	default:
		f.Severity = OK
		f.Summary += ": Longhorn force-deletes pods of a down node about 6 minutes after the loss, without fencing; irisha (modes Lease, NodeShutdown) has failed over by then"
	}
	return f
}

// softAntiAffinity: "Replica Node Level Soft Anti-Affinity" true lets
// replicas of one volume share a node, which one node loss then takes.
func softAntiAffinity(lh *Longhorn) Finding {
	f := lhFinding(lhSoftAntiAffinity)
	v, def := lh.setting(lhSoftAntiAffinity)
	f.Summary = lhSoftAntiAffinity + " " + shown(v, def)
	if strings.EqualFold(v, "true") {
		f.Severity = Warning
		f.Summary += ": replicas of a volume may share a node"
		f.Breaks = "one node loss can take every copy of a volume"
		f.Fix = "set it to false (the default) and keep as many schedulable nodes as replicas"
		return f
	}
	f.Severity = OK
	f.Summary += ": each replica on its own node"
	return f
}

func defaultReplicas(lh *Longhorn) Finding {
	f := lhFinding(lhDefaultReplicas)
	v, def := lh.setting(lhDefaultReplicas)
	f.Summary = lhDefaultReplicas + " " + shown(v, def)
	n, err := strconv.Atoi(v)
	switch {
	case err != nil:
		f.Severity, f.Summary = Warning, f.Summary+": not a number"
	case n < 2:
		f.Severity = Warning
		f.Summary += ": volumes of classes without numberOfReplicas get one copy"
		f.Breaks = "such a volume is lost with its node"
		f.Fix = "set it to 3 (2 on a two-node cluster)"
	default:
		f.Severity = OK
	}
	return f
}

// overProvisioning above 100% schedules replicas beyond the disks' real
// space: a disk that fills up faults its replicas.
func overProvisioning(lh *Longhorn) Finding {
	f := lhFinding(lhOverProvisioning)
	v, def := lh.setting(lhOverProvisioning)
	f.Summary = lhOverProvisioning + " " + shown(v+"%", def)
	n, err := strconv.Atoi(v)
	switch {
	case err != nil:
		f.Severity, f.Summary = Warning, f.Summary+": not a number"
	case n > 100:
		f.Severity = Warning
		f.Summary += fmt.Sprintf(": Longhorn schedules volumes up to %d%% of the disks' space", n)
		f.Breaks = "thin volumes can outgrow the disks: a full disk faults its replicas and IRIS stops writing; growing a volume may find no room"
		f.Fix = "keep it at 100, or watch the disks' actual usage"
	default:
		f.Severity = OK
	}
	return f
}

func drainPolicy(lh *Longhorn) Finding {
	f := lhFinding(lhNodeDrainPolicy)
	v, def := lh.setting(lhNodeDrainPolicy)
	f.Summary = lhNodeDrainPolicy + " " + shown(v, def)
	switch v {
	case "always-allow", "allow-if-replica-is-stopped":
		f.Severity = Warning
		f.Breaks = "a drain may take a volume's last healthy replica (Longhorn warns of data loss, and of corruption with always-allow)"
		f.Fix = "use block-if-contains-last-replica (the default) or block-for-eviction-if-contains-last-replica"
	default:
		f.Severity = OK
	}
	return f
}

// longhornVersion: online expansion (v1 engine) since 1.4.
func longhornVersion(lh *Longhorn) (Finding, bool) {
	raw, ok := lh.Settings[lhCurrentVersion]
	if !ok || raw == "" {
		return Finding{}, false
	}
	f := lhFinding(lhCurrentVersion)
	f.Summary = "Longhorn " + raw
	v, err := utilversion.ParseGeneric(raw)
	if err != nil {
		f.Severity = OK
		return f, true
	}
	if !v.AtLeast(utilversion.MajorMinor(1, 4)) {
		f.Severity = Warning
		f.Summary += ": no online expansion before 1.4"
		f.Breaks = "growing a volume online fails"
		f.Fix = "upgrade Longhorn, or annotate its classes " + v1alpha1.AnnotationVolumeExpansion + ": offline"
		return f, true
	}
	f.Severity = OK
	f.Summary += ": expands volumes online"
	return f, true
}

// replicaRoom: a Longhorn class wanting more replicas than there are
// schedulable nodes leaves volumes Degraded, unless replicas may share a
// node (which soft anti-affinity flags).
func replicaRoom(s *Snapshot, lh *Longhorn) []Finding {
	if v, _ := lh.setting(lhSoftAntiAffinity); strings.EqualFold(v, "true") || s.hasUnreadable("nodes") {
		return nil
	}
	ok, _ := schedulableNodes(s)
	scope, _ := classesInScope(s)
	var out []Finding
	for _, c := range scope {
		if c.Class == nil || c.Class.Provisioner != LonghornDriver {
			continue
		}
		n, _ := longhornDefaultReplicas(lh)
		if v, has := param(c.Class.Parameters, "numberOfReplicas"); has {
			if n2, err := strconv.Atoi(v); err == nil {
				n = n2
			}
		}
		if n > len(ok) {
			f := lhFinding("replica-room")
			f.Subject = "storageclass/" + c.Name
			f.Severity = Warning
			f.Summary = fmt.Sprintf("StorageClass %s wants %d replicas, %d nodes are schedulable", c.Name, n, len(ok))
			f.Breaks = "its volumes stay Degraded, with fewer copies than asked"
			f.Fix = "add nodes, or use a class with fewer replicas (2 or more)"
			out = append(out, f)
		}
	}
	return out
}
