package simirisha

import (
	"context"
	"fmt"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"

	corev1 "k8s.io/api/core/v1"

	"github.com/irisha/irisha/internal/fsbench"
	"github.com/irisha/irisha/internal/iris/fakeiris"
	"github.com/irisha/irisha/internal/resources"
	"github.com/irisha/irisha/internal/sim"
	"github.com/irisha/irisha/internal/sim/storage"
)

// Flags of `irisha-manager agent run` the runner rewrites.
const (
	flagListen        = "--listen-address"
	flagSuperserver   = "--superserver-address"
	flagKubeconfig    = "--kubeconfig"
	flagIris          = "--iris"
	flagDataMount     = "--data-mount"
	flagVolumeStats   = "--volume-stats-file"
	flagVolumeMeasure = "--volume-measure-interval"
)

// RunnerOptions tune the processes of irisha pods.
type RunnerOptions struct {
	// Env is added to every agent's environment (and so to the fake
	// IRIS's), e.g. fakeiris.EnvStartDelay or EnvJournalInterval.
	Env []string
	// Other runs the containers that are not irisha's; nil keeps them
	// virtual (the reference deployment).
	Other sim.ContainerRunner
	// SecretVolumes, if set, is a directory where the Secret volumes of
	// irisha pods (the CPF merge file) are projected and kept in sync the
	// way the kubelet does (secretVolumes); empty: they are not mounted,
	// and the fake IRIS starts without a merge file.
	SecretVolumes string
}

// Runner is a sim.ContainerRunner for irisha pods: the IRIS container
// (command /irisha/irisha-manager, as the operator renders it) runs as the
// real agent with the fake IRIS under it, the witness, the storage bench
// and the installed operator run as irisha-manager too, and an IRIS
// container whose command is not the agent runs without it (IrisMain).
// Init containers never run in the sim (the agent binary is already on the
// host), and other containers go to opts.Other. Every process talks to the
// API server as its pod's ServiceAccount (ContainerEnv.Kubeconfig).
func Runner(bins Binaries, opts RunnerOptions) sim.ContainerRunner {
	secrets := newSecretVolumes(opts.SecretVolumes)
	return func(ctx context.Context, env sim.ContainerEnv) (*sim.ContainerProcess, error) {
		spec := containerSpec(env.Pod, env.Container)
		var argv []string
		if spec != nil {
			argv = append(append(argv, spec.Command...), spec.Args...)
		}
		if len(spec.Command) > 0 && len(argv) > 1 && argv[0] == resources.AgentImageBinary {
			switch argv[1] {
			case "witness":
				return witnessProcess(bins, env, spec)
			case fsbench.Command:
				return fsbenchProcess(bins, env, spec), nil
			case "operator":
				return operatorProcess(bins, env, spec)
			}
		}
		if spec == nil || len(spec.Command) == 0 || spec.Command[0] != resources.AgentBinary {
			if spec != nil && spec.Name == resources.ContainerName && env.Pod.Labels[resources.LabelIrisInstance] != "" {
				// An irisha pod's IRIS container whose command is not the
				// agent (edited, or an image that moved): the image runs
				// what it has, without the agent, and fails to start a
				// program it does not have; its probes tell the rest.
				return IrisMain(bins, env)
			}
			if opts.Other != nil {
				return opts.Other(ctx, env)
			}
			return nil, nil
		}
		vols, err := secrets.project(ctx, env)
		if err != nil {
			return nil, err
		}
		env.Volumes = vols
		return agentProcess(bins, opts, env, spec)
	}
}

// agentProcess builds the agent's command line and environment. Every pod
// shares the host's loopback, so the agent's endpoint and the fake IRIS's
// superserver move to free ports, which the kubelet learns for its probes.
func agentProcess(bins Binaries, opts RunnerOptions, env sim.ContainerEnv, spec *corev1.Container) (*sim.ContainerProcess, error) {
	argv := append(append([]string(nil), spec.Command[1:]...), spec.Args...)
	sep := indexOf(argv, "--")
	if sep < 0 {
		return nil, fmt.Errorf("container %s of pod %s: agent command %q has no -- before the IRIS command", spec.Name, env.Pod.Name, argv)
	}
	agentArgs, irisArgs := argv[:sep], argv[sep+1:]
	if len(irisArgs) > 0 && path.Base(irisArgs[0]) == "iris-main" {
		irisArgs = append([]string{bins.IrisMain}, irisArgs[1:]...)
	}

	listen, err := freeAddr()
	if err != nil {
		return nil, err
	}
	superserver, err := freeAddr()
	if err != nil {
		return nil, err
	}
	agentArgs, oldListen := setFlag(agentArgs, flagListen, listen)
	agentArgs, oldSuperserver := setFlag(agentArgs, flagSuperserver, superserver)
	// The agent reads --kubeconfig, not $KUBECONFIG: through the node's
	// proxy, so partitioning the node cuts the agent off from its Lease.
	agentArgs, _ = setFlag(agentArgs, flagKubeconfig, env.Kubeconfig)
	agentArgs, _ = setFlag(agentArgs, flagIris, bins.Iris)
	// The volume is a host directory: its usage comes from the block
	// store's stats file beside it (storage.StatsFile), not from statfs.
	if i := indexOf(agentArgs, flagDataMount); i >= 0 && i+1 < len(agentArgs) {
		if dir := remapPath(agentArgs[i+1], spec.VolumeMounts, env.Volumes); dir != agentArgs[i+1] {
			agentArgs, _ = setFlag(agentArgs, flagVolumeStats, storage.StatsFile(dir))
			// Tests change usage and wait for growth: measure often.
			agentArgs, _ = setFlag(agentArgs, flagVolumeMeasure, "1s")
		}
	}

	ports := map[int32]int32{}
	// The agent's own defaults when the pod spec leaves the flags out.
	for _, m := range []struct{ old, def, now string }{
		{oldListen, ":8085", listen}, {oldSuperserver, "127.0.0.1:1972", superserver},
	} {
		if m.old == "" {
			m.old = m.def
		}
		from, err := portOf(m.old)
		if err != nil {
			return nil, fmt.Errorf("container %s of pod %s: %w", spec.Name, env.Pod.Name, err)
		}
		to, err := portOf(m.now)
		if err != nil {
			return nil, err
		}
		ports[from] = to
	}

	vars := irisEnv(bins, env, spec, superserver)
	vars = append(vars, "KUBECONFIG="+env.Kubeconfig)
	vars = append(vars, opts.Env...)

	cmd := exec.Command(bins.Manager, append(append(agentArgs, "--"), irisArgs...)...)
	cmd.Env = vars
	return &sim.ContainerProcess{Cmd: cmd, Ports: ports, Exec: irisExec(bins, vars)}, nil
}

// IrisMain runs a container of the IRIS image without an agent above it:
// the image's entrypoint, the fake IRIS's iris-main, when the command is
// empty or names iris-main (the reference deployment's IRIS container, for
// a RunnerOptions.Other), else the image's program the command names (see
// irisImageProgram). A program the image does not have is the runtime's
// start error (an *exec.Error: the kubelet reports StartError and retries
// with back-off). Its environment (the returned Cmd.Env) is the one Runner
// gives an agent, and so the `iris` commands the agent runs: an `iris`
// command run with it acts on this container's instance, as `kubectl exec`
// into it would. Every container port but the superserver moves to a free
// port nothing listens on: what the agent would serve is not there, so
// probes of it fail, as on a real cluster.
func IrisMain(bins Binaries, env sim.ContainerEnv) (*sim.ContainerProcess, error) {
	spec := containerSpec(env.Pod, env.Container)
	if spec == nil {
		return nil, fmt.Errorf("pod %s has no container %s", env.Pod.Name, env.Container)
	}
	argv := append(append([]string(nil), spec.Command...), spec.Args...)
	if len(spec.Command) == 0 {
		argv = append([]string{imageEntrypoint}, spec.Args...)
	}
	program, err := irisImageProgram(bins, argv[0])
	if err != nil {
		return nil, err
	}
	superserver, err := freeAddr()
	if err != nil {
		return nil, err
	}
	to, err := portOf(superserver)
	if err != nil {
		return nil, err
	}
	ports := map[int32]int32{resources.SuperserverPort: to}
	for _, p := range spec.Ports {
		if _, ok := ports[p.ContainerPort]; ok {
			continue
		}
		addr, err := freeAddr()
		if err != nil {
			return nil, err
		}
		if ports[p.ContainerPort], err = portOf(addr); err != nil {
			return nil, err
		}
	}
	cmd := exec.Command(program, argv[1:]...)
	cmd.Env = irisEnv(bins, env, spec, superserver)
	return &sim.ContainerProcess{Cmd: cmd, Ports: ports, Exec: irisExec(bins, cmd.Env)}, nil
}

// Where InterSystems' images have their programs.
const (
	imageIris       = "/usr/irissys/bin/iris"
	imageEntrypoint = "/iris-main"
)

// irisImageProgram is the host program standing for a program of the IRIS
// image: iris-main and iris (the fakes, by name, as on the image's PATH, or
// by the image's path) and a shell (the host's /bin/sh, so with the host's
// tools, the fake iris first on its PATH, as the image's shell finds
// iris). Anything else is not in the image: the error the runtime gives.
func irisImageProgram(bins Binaries, name string) (string, error) {
	switch name {
	case "iris", imageIris:
		return bins.Iris, nil
	case "iris-main", imageEntrypoint:
		return bins.IrisMain, nil
	case "sh", "/bin/sh":
		return "/bin/sh", nil
	}
	if path.IsAbs(name) {
		return "", &exec.Error{Name: name, Err: &fs.PathError{Op: "stat", Path: name, Err: syscall.ENOENT}}
	}
	return "", &exec.Error{Name: name, Err: exec.ErrNotFound}
}

// irisExec runs what is exec'd into an IRIS container (an exec probe, or
// `kubectl exec`): a program of the image (irisImageProgram) with the
// container's environment vars, which is also what the agent's own iris
// commands get, so `iris` acts on this container's instance.
func irisExec(bins Binaries, vars []string) sim.ExecFunc {
	vars = slices.Clone(vars)
	return func(argv []string) (*exec.Cmd, error) {
		if len(argv) == 0 {
			return nil, &exec.Error{Name: "", Err: exec.ErrNotFound}
		}
		program, err := irisImageProgram(bins, argv[0])
		if err != nil {
			return nil, err
		}
		cmd := exec.Command(program, argv[1:]...)
		cmd.Env = slices.Clone(vars)
		return cmd, nil
	}
}

// irisEnv is the environment of a container's fake IRIS: the host's little
// (the fake first on PATH), the container's env as the kubelet resolves it
// (ISC_DATA_DIRECTORY on the volume's host directory), and the superserver
// address it listens on.
func irisEnv(bins Binaries, env sim.ContainerEnv, spec *corev1.Container, superserver string) []string {
	vars := hostEnv(filepath.Dir(bins.Iris))
	vars = append(vars, containerEnv(env, spec)...)
	return append(vars, fakeiris.EnvSuperserver+"="+superserver)
}

// witnessProcess runs a node witness (the irisha-witness DaemonSet's
// container) as the real irisha-manager witness: on a free port of the
// shared loopback, advertising the node's IP and that port, which the
// node's peer gateway routes back to it.
func witnessProcess(bins Binaries, env sim.ContainerEnv, spec *corev1.Container) (*sim.ContainerProcess, error) {
	listen, err := freeAddr()
	if err != nil {
		return nil, err
	}
	_, port, err := net.SplitHostPort(listen)
	if err != nil {
		return nil, err
	}
	args := append(append([]string(nil), spec.Command[1:]...), spec.Args...)
	args, _ = setFlag(args, "--listen-address", listen)
	args, _ = setFlag(args, "--advertise-address", net.JoinHostPort(env.NodeIP, port))
	args, _ = setFlag(args, flagKubeconfig, env.Kubeconfig)
	cmd := exec.Command(bins.Manager, args...)
	cmd.Env = append(hostEnv(""), containerEnv(env, spec)...)
	return &sim.ContainerProcess{Cmd: cmd}, nil
}

// operatorProcess runs the installed operator Deployment's container as
// the real irisha-manager operator, under its pod's ServiceAccount: its
// probe and metrics endpoints move to free ports of the shared loopback
// (reported for the kubelet's probes), and the leader election namespace,
// which in a pod comes from the mounted namespace file, is the pod's.
func operatorProcess(bins Binaries, env sim.ContainerEnv, spec *corev1.Container) (*sim.ContainerProcess, error) {
	args := append(append([]string(nil), spec.Command[1:]...), spec.Args...)
	ports := map[int32]int32{}
	for _, f := range []struct{ flag, def string }{
		{"--health-probe-bind-address", ":8081"}, {"--metrics-bind-address", ":8443"},
	} {
		addr, err := freeAddr()
		if err != nil {
			return nil, err
		}
		var old string
		args, old = setFlag(args, f.flag, addr)
		if old == "0" {
			args, _ = setFlag(args, f.flag, "0")
			continue
		}
		if old == "" {
			old = f.def
		}
		from, err := portOf(old)
		if err != nil {
			return nil, fmt.Errorf("container %s of pod %s: %w", spec.Name, env.Pod.Name, err)
		}
		if ports[from], err = portOf(addr); err != nil {
			return nil, err
		}
	}
	if i := slices.IndexFunc(args, func(a string) bool { return strings.HasPrefix(a, "--leader-election-namespace") }); i < 0 {
		args = append(args, "--leader-election-namespace", env.Pod.Namespace)
	}
	cmd := exec.Command(bins.Manager, args...)
	cmd.Env = append(append(hostEnv(""), containerEnv(env, spec)...), "KUBECONFIG="+env.Kubeconfig)
	return &sim.ContainerProcess{Cmd: cmd, Ports: ports}, nil
}

// fsbenchProcess runs the storage bench of `irisha doctor --bench-storage`
// (irisha-manager fsbench) as a local process: on the volume's host
// directory, its result written where the kubelet reads the container's
// termination message. The figures are then this machine's disk's, not a
// replicated store's.
func fsbenchProcess(bins Binaries, env sim.ContainerEnv, spec *corev1.Container) *sim.ContainerProcess {
	args := append(append([]string(nil), spec.Command[1:]...), spec.Args...)
	if i := indexOf(args, fsbench.FlagDir); i >= 0 && i+1 < len(args) {
		args[i+1] = remapPath(args[i+1], spec.VolumeMounts, env.Volumes)
	}
	if env.TerminationMessageFile != "" {
		args, _ = setFlag(args, fsbench.FlagResultFile, env.TerminationMessageFile)
	}
	cmd := exec.Command(bins.Manager, args...)
	cmd.Env = hostEnv("")
	return &sim.ContainerProcess{Cmd: cmd}
}

// hostEnv is the little of the host's environment a process needs: PATH
// (with first, if set, the fake IRIS, as the image has iris on its PATH),
// HOME and TMPDIR. Nothing else leaks in, like the developer's KUBECONFIG.
func hostEnv(first string) []string {
	p := os.Getenv("PATH")
	if first != "" {
		p = first + string(os.PathListSeparator) + p
	}
	out := []string{"PATH=" + p}
	for _, k := range []string{"HOME", "TMPDIR"} {
		if v, ok := os.LookupEnv(k); ok {
			out = append(out, k+"="+v)
		}
	}
	return out
}

// containerEnv resolves the container's env as the kubelet would: literal
// values, with paths under a PVC-backed mount moved to the volume's host
// directory, and the downward API's pod fields. Secret, ConfigMap and
// resource references are skipped: irisha's agent needs none of them, and
// the fake IRIS treats a missing merge file as "nothing to merge".
// $(VAR) expansion is not done either.
func containerEnv(env sim.ContainerEnv, spec *corev1.Container) []string {
	pod := env.Pod
	var out []string
	for _, e := range spec.Env {
		switch {
		case e.ValueFrom == nil:
			out = append(out, e.Name+"="+remapPath(e.Value, spec.VolumeMounts, env.Volumes))
		case e.ValueFrom.FieldRef != nil:
			var v string
			switch e.ValueFrom.FieldRef.FieldPath {
			case "metadata.name":
				v = pod.Name
			case "metadata.namespace":
				v = pod.Namespace
			case "metadata.uid":
				v = string(pod.UID)
			case "spec.nodeName":
				v = env.Node
			case "spec.serviceAccountName":
				v = pod.Spec.ServiceAccountName
			default:
				continue
			}
			out = append(out, e.Name+"="+v)
		}
	}
	return out
}

// remapPath moves an absolute path under a mount of a PVC-backed volume to
// the volume's host directory (the "mounted block device"), honouring the
// mount's subPath. Other values are returned as they are.
func remapPath(value string, mounts []corev1.VolumeMount, vols map[string]string) string {
	if !path.IsAbs(value) {
		return value
	}
	best := -1
	for i, m := range mounts {
		if _, ok := vols[m.Name]; !ok {
			continue
		}
		mp := strings.TrimSuffix(m.MountPath, "/")
		if value != mp && !strings.HasPrefix(value, mp+"/") {
			continue
		}
		if best < 0 || len(mp) > len(mounts[best].MountPath) {
			best = i
		}
	}
	if best < 0 {
		return value
	}
	m := mounts[best]
	rel := strings.TrimPrefix(value, strings.TrimSuffix(m.MountPath, "/"))
	return filepath.Join(vols[m.Name], m.SubPath, rel)
}

// setFlag sets --name to value in args (either "--name value" or
// "--name=value"), appending it if absent, and returns the old value.
func setFlag(args []string, name, value string) ([]string, string) {
	out := append([]string(nil), args...)
	for i, a := range out {
		switch {
		case a == name && i+1 < len(out):
			old := out[i+1]
			out[i+1] = value
			return out, old
		case strings.HasPrefix(a, name+"="):
			old := strings.TrimPrefix(a, name+"=")
			out[i] = name + "=" + value
			return out, old
		}
	}
	return append(out, name, value), ""
}

func indexOf(args []string, s string) int {
	for i, a := range args {
		if a == s {
			return i
		}
	}
	return -1
}

func containerSpec(pod *corev1.Pod, name string) *corev1.Container {
	for i := range pod.Spec.Containers {
		if pod.Spec.Containers[i].Name == name {
			return &pod.Spec.Containers[i]
		}
	}
	return nil
}

func portOf(addr string) (int32, error) {
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		return 0, fmt.Errorf("address %q: %w", addr, err)
	}
	n, err := strconv.ParseInt(p, 10, 32)
	if err != nil {
		return 0, fmt.Errorf("port of %q: %w", addr, err)
	}
	return int32(n), nil
}

// freeAddr returns a 127.0.0.1 address with a port free right now. Another
// process may take it before ours binds; the ephemeral range makes that
// rare, and the container then crashes and restarts on a new port.
func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("finding a free port: %w", err)
	}
	addr := ln.Addr().String()
	if err := ln.Close(); err != nil {
		return "", fmt.Errorf("freeing port %s: %w", addr, err)
	}
	return addr, nil
}
