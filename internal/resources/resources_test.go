package resources

import (
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/irisha/irisha/api/v1alpha1"
)

func instance(mutate ...func(*v1alpha1.IrisInstance)) Inputs {
	inst := &v1alpha1.IrisInstance{
		ObjectMeta: metav1.ObjectMeta{Name: "iris", Namespace: "db"},
		Spec: v1alpha1.IrisInstanceSpec{
			Image:   "containers.intersystems.com/intersystems/iris-community:2025.1",
			Storage: v1alpha1.StorageSpec{ClassName: ptr.To("longhorn"), Size: resource.MustParse("10Gi")},
		},
	}
	for _, m := range mutate {
		m(inst)
	}
	return Inputs{Instance: inst.WithDefaults(), AgentImage: "ghcr.io/irisha/irisha:test"}
}

func build(t *testing.T, in Inputs) *Objects {
	t.Helper()
	objs, err := Build(in)
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	return objs
}

func env(c corev1.Container, name string) string {
	for _, e := range c.Env {
		if e.Name == name {
			return e.Value
		}
	}
	return ""
}

func TestDataDirectoryIsASubdirectoryOfTheMount(t *testing.T) {
	for _, tc := range []struct{ sub, want string }{
		{"", "/irissys/data/IRIS"},
		{"IRIS", "/irissys/data/IRIS"},
		{"instances/prod", "/irissys/data/instances/prod"},
	} {
		in := instance(func(i *v1alpha1.IrisInstance) { i.Spec.Storage.DataSubdirectory = tc.sub })
		c := build(t, in).Deployment.Spec.Template.Spec.Containers[0]
		got := env(c, "ISC_DATA_DIRECTORY")
		if got != tc.want {
			t.Errorf("subdirectory %q: ISC_DATA_DIRECTORY = %q, want %q", tc.sub, got, tc.want)
		}
		// A fresh volume holds lost+found: the mount root itself must never
		// be the data directory.
		if filepath.Clean(got) == DataMountPath {
			t.Errorf("ISC_DATA_DIRECTORY is the mount root")
		}
		var mounted bool
		for _, m := range c.VolumeMounts {
			if m.Name == volumeData && m.MountPath == DataMountPath && m.SubPath == "" {
				mounted = true
			}
		}
		if !mounted {
			t.Errorf("the data volume is not mounted at %s", DataMountPath)
		}
	}
}

func TestPodRunsAsIrisOwnerWithoutPrivileges(t *testing.T) {
	pod := build(t, instance()).Deployment.Spec.Template.Spec
	sc := pod.SecurityContext
	checks := []struct {
		what string
		ok   bool
	}{
		{"runAsUser 51773", ptr.Deref(sc.RunAsUser, 0) == 51773},
		{"runAsGroup 51773", ptr.Deref(sc.RunAsGroup, 0) == 51773},
		{"runAsNonRoot", ptr.Deref(sc.RunAsNonRoot, false)},
		{"fsGroup 51773", ptr.Deref(sc.FSGroup, 0) == 51773},
		{"fsGroupChangePolicy OnRootMismatch", ptr.Deref(sc.FSGroupChangePolicy, "") == corev1.FSGroupChangeOnRootMismatch},
		{"seccomp RuntimeDefault", sc.SeccompProfile != nil && sc.SeccompProfile.Type == corev1.SeccompProfileTypeRuntimeDefault},
	}
	for _, c := range pod.Containers {
		csc := c.SecurityContext
		checks = append(checks,
			struct {
				what string
				ok   bool
			}{c.Name + ": no privilege escalation", csc != nil && csc.AllowPrivilegeEscalation != nil && !*csc.AllowPrivilegeEscalation},
			struct {
				what string
				ok   bool
			}{c.Name + ": capabilities drop ALL", csc != nil && csc.Capabilities != nil && len(csc.Capabilities.Drop) == 1 && csc.Capabilities.Drop[0] == "ALL" && len(csc.Capabilities.Add) == 0},
			struct {
				what string
				ok   bool
			}{c.Name + ": not privileged", csc != nil && !ptr.Deref(csc.Privileged, false)},
		)
	}
	for _, c := range checks {
		if !c.ok {
			t.Errorf("pod security: %s does not hold", c.what)
		}
	}
}

func TestGracePeriodCoversShutdownTimeout(t *testing.T) {
	for _, timeout := range []int32{0, 120, 300, 3600, 100000} {
		in := instance(func(i *v1alpha1.IrisInstance) { i.Spec.ShutdownTimeoutSeconds = timeout })
		objs := build(t, in)
		grace := ptr.Deref(objs.Deployment.Spec.Template.Spec.TerminationGracePeriodSeconds, 30)
		want := int64(in.Instance.Spec.ShutdownTimeoutSeconds)
		if grace <= want {
			t.Errorf("ShutdownTimeout %d: grace period %d is not above it", want, grace)
		}
		merge := string(objs.MergeSecret.Data[MergeFileKey])
		if !strings.Contains(merge, "ShutdownTimeout="+strconv.FormatInt(want, 10)) {
			t.Errorf("ShutdownTimeout %d is not in the merge file:\n%s", want, merge)
		}
	}
}

func TestOneWriterByConstruction(t *testing.T) {
	d := build(t, instance()).Deployment
	if ptr.Deref(d.Spec.Replicas, 0) != 1 {
		t.Errorf("replicas = %v, want 1", d.Spec.Replicas)
	}
	if d.Spec.Strategy.Type != "Recreate" {
		t.Errorf("strategy = %q, want Recreate: a rolling update would start the new pod next to the old one", d.Spec.Strategy.Type)
	}
}

// TestAgentIsPID1: the agent, copied in by the init container, runs
// iris-main under itself (zombie reaping, signal forwarding, the Lease).
func TestAgentIsPID1(t *testing.T) {
	in := instance(func(i *v1alpha1.IrisInstance) { i.Spec.Failover.LeaseDurationSeconds = 15 })
	pod := build(t, in).Deployment.Spec.Template.Spec
	c := pod.Containers[0]
	cmd := strings.Join(c.Command, " ")
	if !strings.HasPrefix(cmd, AgentBinary+" agent run ") || !strings.HasSuffix(cmd, " -- /iris-main") {
		t.Errorf("command = %q, want the agent running /iris-main", cmd)
	}
	if !strings.Contains(cmd, "--lease-name iris-fencing") || !strings.Contains(cmd, "--lease-duration 15s") {
		t.Errorf("command %q does not carry the instance's Lease", cmd)
	}
	if !strings.Contains(cmd, "--instance-name iris ") {
		t.Errorf("command %q does not name the instance, whose backups the agent takes part in", cmd)
	}
	if len(pod.InitContainers) != 1 || pod.InitContainers[0].Image != in.AgentImage ||
		strings.Join(pod.InitContainers[0].Command, " ") != AgentImageBinary+" agent install "+AgentBinary {
		t.Errorf("init containers = %+v", pod.InitContainers)
	}
	for _, name := range []string{"POD_NAME", "POD_NAMESPACE", "POD_UID"} {
		found := false
		for _, e := range c.Env {
			if e.Name == name && e.ValueFrom != nil && e.ValueFrom.FieldRef != nil {
				found = true
			}
		}
		if !found {
			t.Errorf("%s is not set from the downward API", name)
		}
	}
	if !ptr.Deref(pod.AutomountServiceAccountToken, false) {
		t.Errorf("the agent needs its service account token to hold the Lease")
	}
	if _, err := Build(Inputs{Instance: in.Instance}); err == nil {
		t.Errorf("building without an agent image must fail")
	}
}

func TestAgentRBACIsMinimal(t *testing.T) {
	objs := build(t, instance())
	for _, r := range objs.AgentRole.Rules {
		for _, res := range r.Resources {
			if res == "leases" && (len(r.ResourceNames) != 1 || r.ResourceNames[0] != "iris-fencing") {
				t.Errorf("the agent may touch Leases %v, want only its own", r.ResourceNames)
			}
		}
		for _, res := range r.Resources {
			if res == "configmaps" && (strings.Join(r.ResourceNames, ",") != "iris-witnesses" || strings.Join(r.Verbs, ",") != "get") {
				t.Errorf("the agent may %v ConfigMaps %v, want only to get its mirror of the witnesses", r.Verbs, r.ResourceNames)
			}
			if res == "irisbackups" && strings.Join(r.Verbs, ",") != "get,list,watch" {
				t.Errorf("the agent may %v IrisBackups, want only to read them", r.Verbs)
			}
			if res == "irisbackups/status" && strings.Join(r.Verbs, ",") != "patch" {
				t.Errorf("the agent may %v IrisBackup status, want only patch", r.Verbs)
			}
		}
		for _, v := range r.Verbs {
			if v == "create" || v == "delete" || v == "*" {
				t.Errorf("the agent's Role grants %s on %v", v, r.Resources)
			}
		}
	}
	b := objs.AgentBinding
	if b.RoleRef.Name != objs.AgentRole.Name || len(b.Subjects) != 1 || b.Subjects[0].Name != objs.ServiceAccount.Name {
		t.Errorf("binding = %+v", b)
	}
	if objs.FencingLease.Spec.HolderIdentity != nil {
		t.Errorf("the operator must create the Lease without a holder")
	}
}

func TestProbes(t *testing.T) {
	c := build(t, instance()).Deployment.Spec.Template.Spec.Containers[0]
	if c.StartupProbe == nil || c.LivenessProbe == nil || c.ReadinessProbe == nil {
		t.Fatalf("startup, liveness and readiness probes must all be set")
	}
	window := c.StartupProbe.PeriodSeconds * c.StartupProbe.FailureThreshold
	if window < 10*60 {
		t.Errorf("startup window %ds leaves no room for journal recovery; want at least 10 minutes", window)
	}
	if c.StartupProbe.PeriodSeconds > 1 {
		t.Errorf("startup probe every %ds: a failed-over pod waits that long to be Ready", c.StartupProbe.PeriodSeconds)
	}
	// The agent decides what each probe means (a frozen write daemon keeps
	// /livez up: see internal/agent's tests); the pod must ask the agent.
	for path, p := range map[string]*corev1.Probe{"/startupz": c.StartupProbe, "/livez": c.LivenessProbe, "/readyz": c.ReadinessProbe} {
		if p.HTTPGet == nil || p.HTTPGet.Path != path || p.HTTPGet.Port.String() != "agent" {
			t.Errorf("probe for %s = %+v", path, p.ProbeHandler)
		}
	}
}

func TestMergeFileIsWatchableAndOwnsShutdownTimeout(t *testing.T) {
	in := instance(func(i *v1alpha1.IrisInstance) {
		i.Spec.Config = &v1alpha1.ConfigSpec{MergeText: ptr.To("[config]\nglobals=0,0,800,0,0,0\n")}
	})
	in.MergeText = *in.Instance.Spec.Config.MergeText
	objs := build(t, in)
	c := objs.Deployment.Spec.Template.Spec.Containers[0]
	if got := env(c, "ISC_CPF_MERGE_FILE"); got != MergeMountPath+"/"+MergeFileKey {
		t.Errorf("ISC_CPF_MERGE_FILE = %q", got)
	}
	for _, m := range c.VolumeMounts {
		if m.Name == volumeMerge && m.SubPath != "" {
			t.Errorf("the merge file is mounted with subPath, which never sees updates")
		}
	}
	merge := string(objs.MergeSecret.Data[MergeFileKey])
	for _, want := range []string{"globals=0,0,800,0,0,0", "ShutdownTimeout=300"} {
		if !strings.Contains(merge, want) {
			t.Errorf("merge file lacks %q:\n%s", want, merge)
		}
	}
}

func TestInvalidConfig(t *testing.T) {
	for _, tc := range []struct {
		name, text, wantInError string
	}{
		{"line without section", "globals=0,0,800,0,0,0\n", "line 1"},
		{"garbage on line 3", "[config]\nglobals=0,0,800,0,0,0\nthis is not a setting\n", "line 3"},
		{"ShutdownTimeout owned by the spec", "[Startup]\nShutdownTimeout=200\n", "spec.shutdownTimeoutSeconds"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := instance()
			in.MergeText = tc.text
			_, err := Build(in)
			if !IsInvalidConfig(err) {
				t.Fatalf("Build error = %v, want an InvalidConfigError", err)
			}
			if !strings.Contains(err.Error(), tc.wantInError) {
				t.Errorf("error %q does not mention %q", err, tc.wantInError)
			}
		})
	}
}

func TestPassword(t *testing.T) {
	withSecret := func(i *v1alpha1.IrisInstance) { i.Spec.PasswordSecret = &v1alpha1.PasswordSecretRef{Name: "pw"} }

	hashed := instance(withSecret)
	hashed.PasswordHash = "FBFE8593AEFA510C27FD184738D6E865A441DE98,u4ocm4qh"
	objs := build(t, hashed)
	if merge := string(objs.MergeSecret.Data[MergeFileKey]); !strings.Contains(merge, "PasswordHash="+hashed.PasswordHash) {
		t.Errorf("PasswordHash not merged:\n%s", merge)
	}
	if args := strings.Join(objs.Deployment.Spec.Template.Spec.Containers[0].Args, " "); strings.Contains(args, "--password-file") {
		t.Errorf("a hash must not also be passed as a password file: %s", args)
	}

	plain := instance(withSecret)
	plain.PasswordFile = true
	objs = build(t, plain)
	if args := strings.Join(objs.Deployment.Spec.Template.Spec.Containers[0].Args, " "); !strings.Contains(args, "--password-file /irissys/password/password") {
		t.Errorf("plain password not passed to iris-main: %s", args)
	}
	if merge := string(objs.MergeSecret.Data[MergeFileKey]); strings.Contains(merge, "PasswordHash") {
		t.Errorf("no PasswordHash expected:\n%s", merge)
	}

	bad := instance(withSecret)
	bad.PasswordHash = "not a hash"
	if _, err := Build(bad); !IsInvalidConfig(err) {
		t.Errorf("a malformed PasswordHash must be rejected, got %v", err)
	}
}

func TestServicePorts(t *testing.T) {
	for _, tc := range []struct {
		name  string
		image string
		ports []v1alpha1.IrisPort
		want  []int32
	}{
		{"community gets the web port", "containers.intersystems.com/intersystems/iris-community:2025.1", nil, []int32{1972, 52773}},
		{"licensed image has no private web server", "containers.intersystems.com/intersystems/iris:2025.1", nil, []int32{1972}},
		{"explicit list wins", "intersystems/iris-community:2025.1", []v1alpha1.IrisPort{v1alpha1.PortSuperserver}, []int32{1972}},
		{"digest reference", "intersystems/irishealth-community@sha256:abc", nil, []int32{1972, 52773}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := instance(func(i *v1alpha1.IrisInstance) { i.Spec.Image = tc.image; i.Spec.Service.Ports = tc.ports })
			svc := build(t, in).Service
			var got []int32
			for _, p := range svc.Spec.Ports {
				got = append(got, p.Port)
			}
			if !equalInts(got, tc.want) {
				t.Errorf("ports = %v, want %v", got, tc.want)
			}
		})
	}
}

func equalInts(a, b []int32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestPVC(t *testing.T) {
	in := instance(func(i *v1alpha1.IrisInstance) { i.Spec.Storage.AccessMode = corev1.ReadWriteOncePod })
	pvc := build(t, in).PVC
	if pvc.Name != "iris-data" || ptr.Deref(pvc.Spec.StorageClassName, "") != "longhorn" {
		t.Errorf("pvc = %s class %v", pvc.Name, pvc.Spec.StorageClassName)
	}
	if len(pvc.Spec.AccessModes) != 1 || pvc.Spec.AccessModes[0] != corev1.ReadWriteOncePod {
		t.Errorf("access modes = %v", pvc.Spec.AccessModes)
	}
	if got := StorageRequest(pvc); got.Cmp(resource.MustParse("10Gi")) != 0 {
		t.Errorf("size = %s", got.String())
	}
	if len(pvc.OwnerReferences) != 0 {
		t.Errorf("the builder must not own the PVC; the reconciler decides by deletion policy")
	}
}

func TestPreferredZonesKeepTheirOrder(t *testing.T) {
	in := instance(func(i *v1alpha1.IrisInstance) { i.Spec.Scheduling.PreferredZones = []string{"a", "b", "c"} })
	terms := build(t, in).Deployment.Spec.Template.Spec.Affinity.NodeAffinity.PreferredDuringSchedulingIgnoredDuringExecution
	if len(terms) != 3 {
		t.Fatalf("got %d terms", len(terms))
	}
	for i := 1; i < len(terms); i++ {
		if terms[i].Weight >= terms[i-1].Weight || terms[i].Weight < 1 {
			t.Errorf("weights %d then %d do not keep the order", terms[i-1].Weight, terms[i].Weight)
		}
	}
	if terms[0].Preference.MatchExpressions[0].Values[0] != "a" {
		t.Errorf("first preferred zone = %v", terms[0].Preference.MatchExpressions[0].Values)
	}
}

// TestTolerationsFollowTheFailoverMode: when irisha fails over, Kubernetes'
// timed eviction of pods on unreachable nodes is switched off for the
// instance; in mode Off the defaults stay; a user's own toleration wins.
func TestTolerationsFollowTheFailoverMode(t *testing.T) {
	forever := func(tols []corev1.Toleration, key string) bool {
		for _, tol := range tols {
			if tol.Key == key {
				return tol.Effect == corev1.TaintEffectNoExecute && tol.TolerationSeconds == nil && tol.Operator == corev1.TolerationOpExists
			}
		}
		return false
	}
	for _, mode := range []v1alpha1.FailoverMode{v1alpha1.FailoverLease, v1alpha1.FailoverNodeShutdown} {
		tols := build(t, instance(func(i *v1alpha1.IrisInstance) { i.Spec.Failover.Mode = mode })).Deployment.Spec.Template.Spec.Tolerations
		if !forever(tols, corev1.TaintNodeNotReady) || !forever(tols, corev1.TaintNodeUnreachable) {
			t.Errorf("mode %s: tolerations %+v do not switch off the taint eviction", mode, tols)
		}
	}
	off := build(t, instance(func(i *v1alpha1.IrisInstance) { i.Spec.Failover.Mode = v1alpha1.FailoverOff })).Deployment.Spec.Template.Spec.Tolerations
	if len(off) != 0 {
		t.Errorf("mode Off: tolerations %+v, want Kubernetes' defaults (none set)", off)
	}
	mine := corev1.Toleration{Key: corev1.TaintNodeUnreachable, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute, TolerationSeconds: ptr.To[int64](60)}
	tols := build(t, instance(func(i *v1alpha1.IrisInstance) { i.Spec.Scheduling.Tolerations = []corev1.Toleration{mine} })).Deployment.Spec.Template.Spec.Tolerations
	if len(tols) != 2 || tols[0].Key != mine.Key || ptr.Deref(tols[0].TolerationSeconds, 0) != 60 || !forever(tols, corev1.TaintNodeNotReady) {
		t.Errorf("with the user's own unreachable toleration: %+v", tols)
	}
}

// TestRunsAgent: only a pod whose IRIS container starts the agent for the
// instance's Lease counts; an edited command, another instance's agent or a
// missing container does not.
func TestRunsAgent(t *testing.T) {
	in := instance()
	built := build(t, in).Deployment.Spec.Template
	pod := func(mutate func(*corev1.PodSpec)) *corev1.Pod {
		p := &corev1.Pod{Spec: *built.Spec.DeepCopy()}
		if mutate != nil {
			mutate(&p.Spec)
		}
		return p
	}
	if !RunsAgent(pod(nil), in.Instance) {
		t.Fatal("the pod the Deployment builds does not run the agent")
	}
	other := in.Instance.DeepCopy()
	other.Name = "other"
	for name, mutate := range map[string]func(*corev1.PodSpec){
		"iris-main as the command": func(s *corev1.PodSpec) { s.Containers[0].Command = []string{"/iris-main"} },
		"a shell":                  func(s *corev1.PodSpec) { s.Containers[0].Command = []string{"/bin/sh", "-c", "iris start IRIS"} },
		"no Lease": func(s *corev1.PodSpec) {
			s.Containers[0].Command = []string{AgentBinary, "agent", "run", "--", "/iris-main"}
		},
		"the Lease only after --": func(s *corev1.PodSpec) {
			s.Containers[0].Command = []string{AgentBinary, "agent", "run", "--", "--lease-name", FencingLeaseName(in.Instance)}
		},
		"no IRIS container": func(s *corev1.PodSpec) { s.Containers[0].Name = "sidecar" },
	} {
		if RunsAgent(pod(mutate), in.Instance) {
			t.Errorf("%s: counted as running the agent", name)
		}
	}
	if RunsAgent(pod(nil), other) {
		t.Error("a pod running another instance's agent counted")
	}
	ready := pod(nil)
	ready.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}
	if !Serving(ready, in.Instance) {
		t.Error("a Ready pod running the agent does not serve")
	}
	ready.Spec.Containers[0].Command = []string{"/iris-main"}
	if Serving(ready, in.Instance) {
		t.Error("a Ready pod without the agent serves")
	}
}
