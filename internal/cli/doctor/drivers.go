package doctor

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
)

// Replication is what a StorageClass does with a node loss.
type Replication string

// Replications, from good to bad for IRIS.
const (
	// Replicated keeps copies on other nodes: the volume follows the pod.
	Replicated Replication = "replicated"
	// Zonal is replicated inside one zone (a cloud's zonal disk): the pod
	// can move to another node of that zone only.
	Zonal Replication = "zonal"
	// Unknown is a driver doctor does not know.
	Unknown Replication = "unknown"
	// SingleCopy is a replicating driver told to keep one copy.
	SingleCopy Replication = "single-copy"
	// NodeLocal pins each volume to one node: the trap.
	NodeLocal Replication = "node-local"
)

// Verdict is what doctor makes of a class's replication.
type Verdict struct {
	Replication Replication
	// Driver is the block store's name ("Longhorn"), "" if unknown.
	Driver string
	// Detail says what the verdict rests on.
	Detail string
}

// LonghornDriver is Longhorn's CSI driver.
const LonghornDriver = "driver.longhorn.io"

// A knownDriver is one row of the table of drivers doctor knows. Each says
// where the block store sets how many copies a volume has.
type knownDriver struct {
	name         string
	provisioners []string
	// suffix matches provisioners ending so (Ceph-CSI's are prefixed by
	// the operator's namespace: rook-ceph.rbd.csi.ceph.com).
	suffix string
	judge  func(params map[string]string, lh *Longhorn) Verdict
}

// knownDrivers is the table. Sources: each project's StorageClass
// parameter reference (Longhorn numberOfReplicas and dataLocality;
// Portworx and OpenEBS Mayastor repl; GKE replication-type: regional-pd;
// Azure Disk skuName *_ZRS; EBS volumes live in one availability zone;
// Ceph replicates by its pool's size). A driver that is not here is
// "unknown: check it replicates across nodes".
var knownDrivers = []knownDriver{
	{name: "Longhorn", provisioners: []string{LonghornDriver}, judge: judgeLonghorn},
	{name: "Portworx", provisioners: []string{"pxd.portworx.com", "kubernetes.io/portworx-volume"}, judge: replParam("Portworx", "repl")},
	{name: "OpenEBS Mayastor", provisioners: []string{"io.openebs.csi-mayastor"}, judge: replParam("OpenEBS Mayastor", "repl")},
	{name: "Ceph RBD (Rook)", provisioners: []string{"rbd.csi.ceph.com"}, suffix: ".rbd.csi.ceph.com", judge: fixed(Replicated, "Ceph RBD (Rook)", "Ceph keeps the pool's replicas (its size, 3 by default) on different hosts; check the pool's size is 2 or more")},
	{name: "CephFS (Rook)", provisioners: []string{"cephfs.csi.ceph.com"}, suffix: ".cephfs.csi.ceph.com", judge: fixed(Replicated, "CephFS (Rook)", "Ceph keeps the pool's replicas on different hosts; check the data pool's size is 2 or more")},
	{name: "GKE Persistent Disk", provisioners: []string{"pd.csi.storage.gke.io", "kubernetes.io/gce-pd"}, judge: judgeGCEPD},
	{name: "Azure Disk", provisioners: []string{"disk.csi.azure.com", "kubernetes.io/azure-disk"}, judge: judgeAzureDisk},
	{name: "AWS EBS", provisioners: []string{"ebs.csi.aws.com", "kubernetes.io/aws-ebs"}, judge: fixed(Zonal, "AWS EBS", "an EBS volume lives in one availability zone")},

	// Node-local provisioners: each volume is a directory or disk of one node.
	{name: "local-path-provisioner", provisioners: []string{"rancher.io/local-path"}, judge: nodeLocal("local-path-provisioner")},
	{name: "local PersistentVolumes", provisioners: []string{"kubernetes.io/no-provisioner"}, judge: nodeLocal("local PersistentVolumes")},
	{name: "OpenEBS Local PV", provisioners: []string{"openebs.io/local", "local.csi.openebs.io", "zfs.csi.openebs.io"}, judge: nodeLocal("OpenEBS Local PV")},
	{name: "TopoLVM", provisioners: []string{"topolvm.io", "topolvm.cybozu.com"}, judge: nodeLocal("TopoLVM")},
	{name: "CSI hostpath", provisioners: []string{"hostpath.csi.k8s.io", "k8s.io/minikube-hostpath", "microk8s.io/hostpath"}, judge: nodeLocal("host path")},
	// irisha's simulated cluster (irisha sim, the sandbox) has one too.
	{name: "irisha's simulated local disk", provisioners: []string{"local.disk.sim.irisha.dev"}, judge: nodeLocal("irisha's simulated local disk")},
}

func fixed(r Replication, driver, detail string) func(map[string]string, *Longhorn) Verdict {
	return func(map[string]string, *Longhorn) Verdict { return Verdict{r, driver, detail} }
}

func nodeLocal(driver string) func(map[string]string, *Longhorn) Verdict {
	return fixed(NodeLocal, driver, "each volume lives on one node's disk")
}

// param reads a class parameter case-insensitively, as most CSI drivers
// read them.
func param(params map[string]string, key string) (string, bool) {
	for k, v := range params {
		if strings.EqualFold(k, key) {
			return v, true
		}
	}
	return "", false
}

// replParam judges drivers whose copy count is one parameter, 1 when unset.
func replParam(driver, key string) func(map[string]string, *Longhorn) Verdict {
	return func(params map[string]string, _ *Longhorn) Verdict {
		v, ok := param(params, key)
		if !ok {
			return Verdict{SingleCopy, driver, key + " is not set: " + driver + " then keeps 1 copy"}
		}
		return copies(driver, key, v)
	}
}

func copies(driver, key, v string) Verdict {
	n, err := strconv.Atoi(strings.TrimSpace(v))
	switch {
	case err != nil:
		return Verdict{Unknown, driver, fmt.Sprintf("%s %q is not a number", key, v)}
	case n >= 2:
		return Verdict{Replicated, driver, fmt.Sprintf("%s %d", key, n)}
	default:
		return Verdict{SingleCopy, driver, fmt.Sprintf("%s %d", key, n)}
	}
}

// LonghornDefaultReplicas is Longhorn's default-replica-count default.
const LonghornDefaultReplicas = 3

// judgeLonghorn: numberOfReplicas, or the default-replica-count setting
// when the class leaves it out; dataLocality strict-local keeps the one
// replica on the pod's node.
func judgeLonghorn(params map[string]string, lh *Longhorn) Verdict {
	if v, _ := param(params, "dataLocality"); v == "strict-local" {
		return Verdict{NodeLocal, "Longhorn", "dataLocality strict-local: one replica, on the pod's node"}
	}
	if v, ok := param(params, "numberOfReplicas"); ok {
		return copies("Longhorn", "numberOfReplicas", v)
	}
	n, from := longhornDefaultReplicas(lh)
	v := copies("Longhorn", "default-replica-count", strconv.Itoa(n))
	v.Detail = "numberOfReplicas not set: " + from
	return v
}

// longhornDefaultReplicas is the default-replica-count setting, or
// Longhorn's default when it could not be read.
func longhornDefaultReplicas(lh *Longhorn) (int, string) {
	if lh != nil {
		if raw, ok := lh.Settings["default-replica-count"]; ok {
			if n, err := strconv.Atoi(settingV1(raw)); err == nil {
				return n, fmt.Sprintf("the setting default-replica-count, %d", n)
			}
		}
	}
	return LonghornDefaultReplicas, fmt.Sprintf("the setting default-replica-count, %d unless changed", LonghornDefaultReplicas)
}

// settingV1 is a Longhorn setting's value for the v1 data engine: since
// 1.8 some settings hold JSON by engine ({"v1":"3","v2":"3"}).
func settingV1(raw string) string {
	raw = strings.TrimSpace(raw)
	if strings.HasPrefix(raw, "{") {
		var byEngine map[string]string
		if err := json.Unmarshal([]byte(raw), &byEngine); err == nil {
			return byEngine["v1"]
		}
	}
	return raw
}

func judgeGCEPD(params map[string]string, _ *Longhorn) Verdict {
	if v, _ := param(params, "replication-type"); v == "regional-pd" {
		return Verdict{Replicated, "GKE Persistent Disk", "replication-type regional-pd: copies in two zones"}
	}
	return Verdict{Zonal, "GKE Persistent Disk", "a zonal disk (replication-type is not regional-pd)"}
}

func judgeAzureDisk(params map[string]string, _ *Longhorn) Verdict {
	sku, ok := param(params, "skuName")
	if !ok {
		sku, _ = param(params, "storageaccounttype")
	}
	if strings.HasSuffix(strings.ToUpper(sku), "_ZRS") {
		return Verdict{Replicated, "Azure Disk", "skuName " + sku + ": zone-redundant"}
	}
	if sku == "" {
		sku = "the default (StandardSSD_LRS)"
	}
	return Verdict{Zonal, "Azure Disk", "skuName " + sku + ": locally redundant, in one zone"}
}

// Hostname label a node-local PV's node affinity names.
const labelHostname = "kubernetes.io/hostname"

// Classify says how sc's volumes survive a node loss: from its PVs first
// (one pinned to a single node by its node affinity is the trap, whatever
// the driver), then from the table of known drivers.
func Classify(sc *storagev1.StorageClass, pvs []corev1.PersistentVolume, lh *Longhorn) Verdict {
	for i := range pvs {
		pv := &pvs[i]
		if pv.Spec.StorageClassName != sc.Name {
			continue
		}
		if node := pinnedNode(pv); node != "" {
			driver := ""
			if d := lookupDriver(sc.Provisioner); d != nil {
				driver = d.name
			}
			return Verdict{NodeLocal, driver, fmt.Sprintf("its PV %s is pinned to node %s (node affinity %s)", pv.Name, node, labelHostname)}
		}
	}
	if d := lookupDriver(sc.Provisioner); d != nil {
		return d.judge(sc.Parameters, lh)
	}
	v := Verdict{Unknown, "", "driver " + sc.Provisioner + " is not one doctor knows"}
	if sc.VolumeBindingMode != nil && *sc.VolumeBindingMode == storagev1.VolumeBindingWaitForFirstConsumer {
		v.Detail += "; WaitForFirstConsumer, as node-local classes are: if its PVs come pinned to a node, it is the node-local trap"
	}
	return v
}

func lookupDriver(provisioner string) *knownDriver {
	for i := range knownDrivers {
		d := &knownDrivers[i]
		for _, p := range d.provisioners {
			if p == provisioner {
				return d
			}
		}
		if d.suffix != "" && strings.HasSuffix(provisioner, d.suffix) {
			return d
		}
	}
	return nil
}

// pinnedNode is the one node a PV's required node affinity allows by
// hostname, "" if it is not pinned so.
func pinnedNode(pv *corev1.PersistentVolume) string {
	if pv.Spec.NodeAffinity == nil || pv.Spec.NodeAffinity.Required == nil {
		return ""
	}
	terms := pv.Spec.NodeAffinity.Required.NodeSelectorTerms
	if len(terms) != 1 {
		return ""
	}
	for _, e := range terms[0].MatchExpressions {
		if e.Key == labelHostname && e.Operator == corev1.NodeSelectorOpIn && len(e.Values) == 1 {
			return e.Values[0]
		}
	}
	return ""
}
