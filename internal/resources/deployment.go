package resources

import (
	"path"
	"slices"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/irisha/irisha/api/v1alpha1"
)

// IRIS facts the pod is built around: InterSystems' images run as irisowner
// and serve the superserver and web ports below ("Running InterSystems
// Products in Containers",
// https://docs.intersystems.com/irislatest/csp/docbook/DocBook.UI.Page.cls?KEY=ADOCK).
const (
	// IrisUID and IrisGID are irisowner's, the user every IRIS image runs as.
	IrisUID = 51773
	IrisGID = 51773

	SuperserverPort = 1972
	WebPort         = 52773

	// ContainerName of the IRIS container.
	ContainerName = "iris"

	DataMountPath     = "/irissys/data"
	MergeMountPath    = "/irissys/merge"
	LicenseMountPath  = "/irissys/key"
	PasswordMountPath = "/irissys/password"

	// shutdownGraceMargin is added to IRIS's ShutdownTimeout for the pod's
	// termination grace period, so Kubernetes never SIGKILLs an IRIS that is
	// still shutting down cleanly (a SIGKILL means crash recovery at next start).
	shutdownGraceMargin = 30

	// startupWindowSeconds is how long the startup probe lets IRIS come up.
	// After an unclean stop IRIS replays journals and compares the WIJ first,
	// which takes minutes, not seconds, on a busy instance; the docs say to
	// give the startup probe minutes.
	startupWindowSeconds = 15 * 60
	// startupPeriodSeconds: the startup probe's first success is what lets a
	// replacement become Ready after a failover, so it is asked every second
	// (an HTTP request to the agent, not an iris command) and adds at most a
	// second to the recovery time.
	startupPeriodSeconds = 1
	// livenessPeriodSeconds and livenessFailures: /livez runs qlist, so it
	// is asked every 10 s, and the kubelet restarts IRIS only after three
	// failures in a row (Kubernetes' default threshold): 30 s of IRIS down
	// or hung, not one qlist slowed by a load spike.
	livenessPeriodSeconds = 10
	livenessFailures      = 3
	// readinessPeriodSeconds and readinessFailures: /readyz takes the pod
	// out of the Service within two probes (10 s) of IRIS no longer
	// accepting connections or the agent losing the Lease; two, so one slow
	// answer does not drop every client's connection target.
	readinessPeriodSeconds = 5
	readinessFailures      = 2
)

// Volume names in the pod.
const (
	volumeData     = "data"
	volumeMerge    = "merge"
	volumeLicense  = "license"
	volumePassword = "password"
)

// DataDirectory is ISC_DATA_DIRECTORY: a subdirectory of the mount, never its
// root, because a fresh volume holds lost+found and IRIS refuses a non-empty
// directory without mgr/.
func DataDirectory(inst *v1alpha1.IrisInstance) string {
	sub := inst.Spec.Storage.DataSubdirectory
	if sub == "" {
		sub = v1alpha1.DefaultDataSubdirectory
	}
	return path.Join(DataMountPath, sub)
}

// Deployment runs IRIS: one replica, Recreate, so two pods of the instance are
// never started on purpose (the fencing Lease covers the cases where
// Kubernetes would: W1 in docs/failover.md).
func Deployment(in Inputs) *appsv1.Deployment {
	inst := in.Instance
	labels := Labels(inst)
	return &appsv1.Deployment{
		TypeMeta:   metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"},
		ObjectMeta: objectMeta(inst, DeploymentName(inst)),
		Spec: appsv1.DeploymentSpec{
			Replicas:             ptr.To(replicas(in)),
			Strategy:             appsv1.DeploymentStrategy{Type: appsv1.RecreateDeploymentStrategyType},
			RevisionHistoryLimit: ptr.To[int32](3),
			Selector:             &metav1.LabelSelector{MatchLabels: SelectorLabels(inst)},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec:       podSpec(in),
			},
		},
	}
}

func podSpec(in Inputs) corev1.PodSpec {
	inst := in.Instance
	spec := &inst.Spec
	return corev1.PodSpec{
		ServiceAccountName: ServiceAccountName(inst),
		// The agent holds the fencing Lease through the API server.
		AutomountServiceAccountToken:  ptr.To(true),
		EnableServiceLinks:            ptr.To(false),
		TerminationGracePeriodSeconds: ptr.To(int64(spec.ShutdownTimeoutSeconds) + shutdownGraceMargin),
		SecurityContext: &corev1.PodSecurityContext{
			RunAsUser:    ptr.To[int64](IrisUID),
			RunAsGroup:   ptr.To[int64](IrisGID),
			RunAsNonRoot: ptr.To(true),
			// The docs require fsGroup 51773 for durable %SYS without IKO.
			// OnRootMismatch: without it the kubelet re-chowns the whole volume
			// at every mount, which delays every failover on a large volume.
			FSGroup:             ptr.To[int64](IrisGID),
			FSGroupChangePolicy: ptr.To(corev1.FSGroupChangeOnRootMismatch),
			SeccompProfile:      &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
		},
		ImagePullSecrets: spec.ImagePullSecrets,
		NodeSelector:     spec.Scheduling.NodeSelector,
		Tolerations:      Tolerations(inst),
		Affinity:         affinity(spec.Scheduling),
		InitContainers:   []corev1.Container{agentInitContainer(in)},
		Containers:       []corev1.Container{irisContainer(in)},
		Volumes:          volumes(in),
	}
}

func irisContainer(in Inputs) corev1.Container {
	inst := in.Instance
	spec := &inst.Spec
	return corev1.Container{
		Name:            ContainerName,
		Image:           spec.Image,
		ImagePullPolicy: spec.ImagePullPolicy,
		// The agent is PID 1: it takes the fencing Lease, then runs
		// iris-main, reaps the zombies IRIS's short-lived processes leave and
		// forwards SIGTERM so iris-main runs a clean `iris stop`.
		Command: agentCommand(in),
		Args:    irisMainArgs(in),
		Env: append(agentEnv(),
			corev1.EnvVar{Name: "ISC_DATA_DIRECTORY", Value: DataDirectory(inst)},
			// A directory mount, not subPath: subPath mounts never see updates,
			// and the agent (PID 1 here, so it reads this variable too)
			// merges each change into the running IRIS.
			corev1.EnvVar{Name: "ISC_CPF_MERGE_FILE", Value: path.Join(MergeMountPath, MergeFileKey)},
		),
		Ports:     containerPorts(spec),
		Resources: spec.Resources,
		// The agent's endpoints: /livez reads only qlist's status field, so
		// neither a write daemon frozen for a backup (health "hung") nor the
		// alerts after a crash recovery kill IRIS; it fails when qlist stops
		// answering or IRIS is down. The startup window leaves room for the
		// Lease wait and for journal recovery after an unclean stop.
		StartupProbe:    agentProbe("/startupz", startupPeriodSeconds, startupWindowSeconds/startupPeriodSeconds),
		LivenessProbe:   agentProbe("/livez", livenessPeriodSeconds, livenessFailures),
		ReadinessProbe:  agentProbe("/readyz", readinessPeriodSeconds, readinessFailures),
		SecurityContext: restrictedContainer(),
		VolumeMounts:    volumeMounts(in),
	}
}

// irisMainArgs are iris-main's options ("The iris-main Program",
// https://docs.intersystems.com/irislatest/csp/docbook/DocBook.UI.Page.cls?KEY=ADOCK_iris_iscmain).
func irisMainArgs(in Inputs) []string {
	// iris-main checks for capabilities such as CAP_SETUID; a non-root
	// container without privilege escalation can use none of them, so the
	// check would only refuse to start.
	args := []string{"--check-caps", "false"}
	if ref := in.Instance.Spec.LicenseKeySecret; ref != nil {
		args = append(args, "--key", path.Join(LicenseMountPath, ref.Key))
	}
	if in.PasswordFile {
		args = append(args, "--password-file", path.Join(PasswordMountPath, PasswordKey))
	}
	return args
}

func containerPorts(spec *v1alpha1.IrisInstanceSpec) []corev1.ContainerPort {
	ports := []corev1.ContainerPort{
		{Name: string(v1alpha1.PortSuperserver), ContainerPort: SuperserverPort, Protocol: corev1.ProtocolTCP},
		{Name: agentPortName, ContainerPort: AgentPort, Protocol: corev1.ProtocolTCP},
	}
	if spec.Exposes(v1alpha1.PortWeb) {
		ports = append(ports, corev1.ContainerPort{Name: string(v1alpha1.PortWeb), ContainerPort: WebPort, Protocol: corev1.ProtocolTCP})
	}
	return ports
}

func volumeMounts(in Inputs) []corev1.VolumeMount {
	mounts := []corev1.VolumeMount{
		{Name: volumeAgent, MountPath: AgentMountPath, ReadOnly: true},
		{Name: volumeData, MountPath: DataMountPath},
		{Name: volumeMerge, MountPath: MergeMountPath, ReadOnly: true},
	}
	if in.Instance.Spec.LicenseKeySecret != nil {
		mounts = append(mounts, corev1.VolumeMount{Name: volumeLicense, MountPath: LicenseMountPath, ReadOnly: true})
	}
	if in.PasswordFile {
		mounts = append(mounts, corev1.VolumeMount{Name: volumePassword, MountPath: PasswordMountPath, ReadOnly: true})
	}
	return mounts
}

func volumes(in Inputs) []corev1.Volume {
	inst := in.Instance
	vols := []corev1.Volume{
		{Name: volumeAgent, VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
		{Name: volumeData, VolumeSource: corev1.VolumeSource{
			PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: PVCName(inst)},
		}},
		{Name: volumeMerge, VolumeSource: corev1.VolumeSource{
			Secret: &corev1.SecretVolumeSource{SecretName: MergeSecretName(inst), DefaultMode: ptr.To[int32](0o440)},
		}},
	}
	if ref := inst.Spec.LicenseKeySecret; ref != nil {
		vols = append(vols, corev1.Volume{Name: volumeLicense, VolumeSource: corev1.VolumeSource{
			Secret: &corev1.SecretVolumeSource{SecretName: ref.Name, DefaultMode: ptr.To[int32](0o440),
				Items: []corev1.KeyToPath{{Key: ref.Key, Path: ref.Key}}},
		}})
	}
	if in.PasswordFile {
		vols = append(vols, corev1.Volume{Name: volumePassword, VolumeSource: corev1.VolumeSource{
			Secret: &corev1.SecretVolumeSource{SecretName: inst.Spec.PasswordSecret.Name, DefaultMode: ptr.To[int32](0o440),
				Items: []corev1.KeyToPath{{Key: PasswordKey, Path: PasswordKey}}},
		}})
	}
	return vols
}

// affinity adds the preferred zones, in order of preference, to the user's
// affinity.
func affinity(s v1alpha1.SchedulingSpec) *corev1.Affinity {
	if len(s.PreferredZones) == 0 {
		return s.Affinity
	}
	aff := &corev1.Affinity{}
	if s.Affinity != nil {
		aff = s.Affinity.DeepCopy()
	}
	if aff.NodeAffinity == nil {
		aff.NodeAffinity = &corev1.NodeAffinity{}
	}
	n := int32(len(s.PreferredZones))
	for i, zone := range s.PreferredZones {
		aff.NodeAffinity.PreferredDuringSchedulingIgnoredDuringExecution = append(
			aff.NodeAffinity.PreferredDuringSchedulingIgnoredDuringExecution,
			corev1.PreferredSchedulingTerm{
				// Weights 100, 90, ... keep the user's order; the scheduler
				// accepts 1..100.
				Weight: max(100-int32(i)*(100/n), 1),
				Preference: corev1.NodeSelectorTerm{MatchExpressions: []corev1.NodeSelectorRequirement{{
					Key: corev1.LabelTopologyZone, Operator: corev1.NodeSelectorOpIn, Values: []string{zone},
				}}},
			})
	}
	return aff
}

// Tolerations are the user's, plus, when irisha fails the instance over, an
// unbounded toleration of the not-ready and unreachable taints: otherwise the
// taint-eviction controller would delete the pod after 300 s on its own
// judgement (a timeout, not a proof that IRIS stopped), which at best does
// nothing the failover controller has not done and at worst evicts a pod
// whose agent still holds its Lease. In mode Off Kubernetes' defaults apply,
// as in the reference deployment. A toleration the user gives for the same
// taint wins.
func Tolerations(inst *v1alpha1.IrisInstance) []corev1.Toleration {
	out := slices.Clone(inst.Spec.Scheduling.Tolerations)
	if inst.Spec.Failover.Mode == v1alpha1.FailoverOff {
		return out
	}
	for _, key := range []string{corev1.TaintNodeNotReady, corev1.TaintNodeUnreachable} {
		if slices.ContainsFunc(out, func(t corev1.Toleration) bool { return t.Key == key }) {
			continue
		}
		out = append(out, corev1.Toleration{Key: key, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute})
	}
	return out
}

// replicas is 1, or 0 while the volume grows offline (IRIS stopped).
func replicas(in Inputs) int32 {
	if in.Stopped {
		return 0
	}
	return 1
}
