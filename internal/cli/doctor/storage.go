package doctor

import (
	"fmt"
	"slices"
	"strings"

	storagev1 "k8s.io/api/storage/v1"

	"github.com/irisha/irisha/api/v1alpha1"
)

// Annotations marking the default StorageClass (the beta one is still
// honoured by Kubernetes).
const (
	annDefaultClass     = "storageclass.kubernetes.io/is-default-class"
	annDefaultClassBeta = "storageclass.beta.kubernetes.io/is-default-class"
)

// classInScope is a StorageClass doctor checks and why.
type classInScope struct {
	Name string
	// Class is nil when no class of that name exists.
	Class *storagev1.StorageClass
	// Why: "default class", "class of db/iris", "used by db/a, db/b".
	Why string
}

// defaultClass is the class a claim without storageClassName gets: the
// newest of those marked default (what Kubernetes picks since 1.26), and
// all the marked ones.
func defaultClass(s *Snapshot) (*storagev1.StorageClass, []string) {
	var newest *storagev1.StorageClass
	var all []string
	for i := range s.StorageClasses {
		sc := &s.StorageClasses[i]
		if sc.Annotations[annDefaultClass] != "true" && sc.Annotations[annDefaultClassBeta] != "true" {
			continue
		}
		all = append(all, sc.Name)
		if newest == nil || sc.CreationTimestamp.After(newest.CreationTimestamp.Time) {
			newest = sc
		}
	}
	return newest, all
}

func classNamed(s *Snapshot, name string) *storagev1.StorageClass {
	for i := range s.StorageClasses {
		if s.StorageClasses[i].Name == name {
			return &s.StorageClasses[i]
		}
	}
	return nil
}

// instanceClass is the class name an instance's volume uses ("" for the
// default): its claim's, else its spec's.
func instanceClass(inst *v1alpha1.IrisInstance, s *Snapshot) string {
	if s.Target == inst && s.TargetPVC != nil && s.TargetPVC.Spec.StorageClassName != nil && *s.TargetPVC.Spec.StorageClassName != "" {
		return *s.TargetPVC.Spec.StorageClassName
	}
	if inst.Spec.Storage.ClassName != nil {
		return *inst.Spec.Storage.ClassName
	}
	return ""
}

// classesInScope: with --instance, its class; otherwise the default class
// and every class an IrisInstance uses. The findings are about the
// default class itself (none, several).
func classesInScope(s *Snapshot) ([]classInScope, []Finding) {
	def, defaults := defaultClass(s)
	var findings []Finding
	if len(defaults) > 1 {
		findings = append(findings, Finding{Check: "storage.default", Area: AreaStorage, Severity: Warning,
			Summary: fmt.Sprintf("%d default StorageClasses: %s (claims without a class get the newest, %s)", len(defaults), strings.Join(defaults, ", "), def.Name),
			Breaks:  "which class an instance without spec.storage.className gets depends on creation times",
			Fix:     "keep one class annotated " + annDefaultClass + ": \"true\""})
	}
	var scope []classInScope
	add := func(name, why string) {
		if i := slices.IndexFunc(scope, func(c classInScope) bool { return c.Name == name }); i >= 0 {
			scope[i].Why += ", " + why
			return
		}
		scope = append(scope, classInScope{Name: name, Class: classNamed(s, name), Why: why})
	}
	noDefault := func(who string) {
		findings = append(findings, Finding{Check: "storage.default", Area: AreaStorage, Severity: Error,
			Summary: "no default StorageClass, and " + who + " names none",
			Breaks:  "its claim stays Pending: IRIS never starts",
			Fix:     "set spec.storage.className, or annotate a replicating class " + annDefaultClass + ": \"true\""})
	}
	if inst := s.Target; inst != nil {
		name := instanceClass(inst, s)
		switch {
		case name != "":
			add(name, "class of "+inst.Namespace+"/"+inst.Name)
		case def != nil:
			add(def.Name, "default class, used by "+inst.Namespace+"/"+inst.Name)
		default:
			noDefault(inst.Namespace + "/" + inst.Name)
		}
		return scope, findings
	}
	needsDefault := slices.ContainsFunc(s.Instances, func(i v1alpha1.IrisInstance) bool { return instanceClass(&i, s) == "" })
	if def != nil {
		add(def.Name, "default class")
	} else if !needsDefault && !s.hasUnreadable("storageclasses") {
		findings = append(findings, Finding{Check: "storage.default", Area: AreaStorage, Severity: Warning,
			Summary: "no default StorageClass",
			Breaks:  "an IrisInstance without spec.storage.className gets a claim that stays Pending",
			Fix:     "name a replicating class in spec.storage.className, or annotate one " + annDefaultClass + ": \"true\""})
	}
	for i := range s.Instances {
		inst := &s.Instances[i]
		name := instanceClass(inst, s)
		if name == "" {
			if def == nil {
				noDefault(inst.Namespace + "/" + inst.Name)
				continue
			}
			name = def.Name
		}
		add(name, "used by "+inst.Namespace+"/"+inst.Name)
	}
	return scope, findings
}

func (s *Snapshot) hasUnreadable(key string) bool { return s.Unreadable[key] != "" }

// ReplicationRule: every class in scope must keep copies on other nodes.
// A node-local class is the trap of the article's YAML on local storage:
// after a node loss the replacement pod stays Pending with "volume node
// affinity conflict", and the data is on the dead node.
func ReplicationRule(s *Snapshot) []Finding {
	if why := s.unreadable("storageclasses"); why != "" {
		return []Finding{unreadableFinding("storage.replication", AreaStorage, "storageclasses", why)}
	}
	scope, out := classesInScope(s)
	ok, _ := schedulableNodes(s)
	oneZone := len(zonesOf(ok)) <= 1
	for _, c := range scope {
		f := Finding{Check: "storage.replication", Area: AreaStorage, Subject: "storageclass/" + c.Name}
		if c.Class == nil {
			f.Severity = Error
			f.Summary = fmt.Sprintf("StorageClass %s (%s) does not exist", c.Name, c.Why)
			f.Breaks = "claims of it stay Pending: IRIS never starts"
			f.Fix = "create it, or use an existing replicating class"
			out = append(out, f)
			continue
		}
		v := Classify(c.Class, s.PersistentVolumes, s.Longhorn)
		f.Summary = fmt.Sprintf("StorageClass %s (%s): %s", c.Name, c.Why, describe(c.Class, v))
		switch v.Replication {
		case Replicated:
			f.Severity = OK
		case Zonal:
			if oneZone {
				f.Severity = OK
				f.Summary += "; fine while every node is in one zone"
				break
			}
			f.Severity = Warning
			f.Breaks = "after a node loss IRIS can move only to a node of the volume's zone; a zone outage strands the volume"
			f.Fix = "use a class that replicates across zones (GKE replication-type: regional-pd, Azure *_ZRS, Longhorn) or keep 2 or more nodes per zone"
		case SingleCopy:
			f.Severity = Error
			f.Breaks = "the volume's only copy is on one node: losing that node loses the volume until it comes back, or for good"
			f.Fix = "keep 2 or more copies (Longhorn numberOfReplicas: \"3\", Portworx/Mayastor repl: \"3\") in a new class, and move the data with irisha backup and restore (a class's parameters cannot change)"
		case NodeLocal:
			f.Severity = Error
			f.Breaks = "after a node loss the volume cannot follow IRIS: the replacement pod stays Pending with \"volume node affinity conflict\" until the node comes back, and its data dies with the node"
			f.Fix = "use a class that replicates across nodes: Longhorn (" + LonghornDriver + ", numberOfReplicas \"3\"), Portworx, Rook-Ceph RBD, OpenEBS Mayastor, GKE regional-pd, Azure ZRS; move the data with irisha backup and restore"
		default:
			f.Severity = Warning
			f.Breaks = "if it keeps each volume on one node, a node loss strands IRIS (\"volume node affinity conflict\")"
			f.Fix = "check that " + c.Class.Provisioner + " replicates across nodes; if not, use one that does (Longhorn, Portworx, Rook-Ceph RBD, Mayastor, a cloud's regional disk)"
		}
		out = append(out, f)
	}
	return out
}

func describe(sc *storagev1.StorageClass, v Verdict) string {
	who := sc.Provisioner
	if v.Driver != "" {
		who = v.Driver + " (" + sc.Provisioner + ")"
	}
	switch v.Replication {
	case Replicated:
		return "replicated by " + who + ", " + v.Detail
	case Zonal:
		return "zonal, " + who + ": " + v.Detail
	case SingleCopy:
		return "one copy only, " + who + ": " + v.Detail
	case NodeLocal:
		return "node-local, " + who + ": " + v.Detail
	}
	return "unknown replication: " + v.Detail
}

// ExpansionRule: irisha grows a volume (spec.storage.size, autoGrow) only
// on a class that allows expansion; the irisha.dev/volume-expansion
// annotation says the driver grows it only offline.
func ExpansionRule(s *Snapshot) []Finding {
	if s.hasUnreadable("storageclasses") {
		return nil // ReplicationRule says so
	}
	scope, _ := classesInScope(s)
	var out []Finding
	for _, c := range scope {
		if c.Class == nil {
			continue
		}
		f := Finding{Check: "storage.expansion", Area: AreaStorage, Subject: "storageclass/" + c.Name}
		mode := c.Class.Annotations[v1alpha1.AnnotationVolumeExpansion]
		switch {
		case c.Class.AllowVolumeExpansion == nil || !*c.Class.AllowVolumeExpansion:
			f.Severity = Warning
			f.Summary = "StorageClass " + c.Name + " does not allow volume expansion"
			f.Breaks = "storage growth is impossible: a bigger spec.storage.size and autoGrow are refused (condition VolumeGrowth=False)"
			f.Fix = "if the driver can expand, kubectl patch storageclass " + c.Name + ` -p '{"allowVolumeExpansion": true}'`
		case mode == "offline":
			f.Severity = OK
			f.Summary = "StorageClass " + c.Name + " expands offline (" + v1alpha1.AnnotationVolumeExpansion + ": offline): irisha stops IRIS for each growth, a planned outage"
			if c.Class.Provisioner == LonghornDriver {
				f.Summary += "; Longhorn 1.4 and later grows online, the annotation may be stale"
			}
		case mode != "":
			f.Severity = Warning
			f.Summary = fmt.Sprintf("StorageClass %s: %s is %q, which irisha does not know", c.Name, v1alpha1.AnnotationVolumeExpansion, mode)
			f.Breaks = "irisha grows the volume online, as without the annotation"
			f.Fix = "set it to \"offline\" if the driver grows only detached volumes, or remove it"
		default:
			f.Severity = OK
			f.Summary = "StorageClass " + c.Name + " allows volume expansion (online)"
		}
		out = append(out, f)
	}
	return out
}
