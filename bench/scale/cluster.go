package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/irisha/irisha/api/v1alpha1"
	"github.com/irisha/irisha/internal/operator"
	"github.com/irisha/irisha/internal/sim"
	simirisha "github.com/irisha/irisha/internal/sim/irisha"
)

const (
	// instanceNamespace holds the IrisInstances; the unrelated objects are
	// spread over appNamespaces others, all watched by the operator (it
	// runs without --watch-namespaces, as installed by default).
	instanceNamespace = "db"
	appNamespaces     = 10
	// workers create the unrelated objects in parallel.
	workers = 16
	// settle is how long the operator runs, once Ready, before its memory
	// is first read: readiness waits only for the informers started by
	// then.
	settle = 5 * time.Second
	// rssPeriod is how often the operator's resident memory is sampled
	// (its peak is also read from the kernel's VmHWM at the end).
	rssPeriod = 200 * time.Millisecond
	// irisImage is kept as the spec's image string; nothing is pulled.
	irisImage = "containers.intersystems.com/intersystems/iris-community:2025.1"
)

// runResult is one run: a fresh cluster, its unrelated objects, the
// operator and the instances.
type runResult struct {
	Setup     string `json:"setup"`
	Run       int    `json:"run"`
	Instances int    `json:"instances"`
	Pods      int    `json:"unrelatedPods"`
	Secrets   int    `json:"unrelatedSecrets"`
	Nodes     int    `json:"nodes"`
	Agents    bool   `json:"agents"`
	// SecretBytes is the unrelated Secrets' data, summed.
	SecretBytes int64 `json:"unrelatedSecretBytes"`
	// RSS of the operator process, MiB: settle after it was Ready (before
	// the first instance), at the end, and its peak (VmHWM).
	RSSSyncedMiB float64 `json:"rssSyncedMiB"`
	RSSEndMiB    float64 `json:"rssEndMiB"`
	RSSPeakMiB   float64 `json:"rssPeakMiB"`
	// CPUSeconds is the operator's user and system time over the whole run.
	CPUSeconds float64 `json:"cpuSeconds"`
	// Latencies are, per instance in creation order, seconds from its
	// ADDED event to the event showing Ready=True, both as the benchmark's
	// watch read them; nil: not Ready within -timeout.
	Latencies []*float64 `json:"latencies"`
	// Wall is the run's duration, seconds.
	Wall float64 `json:"wallSeconds"`
}

func runOnce(ctx context.Context, o options, bins simirisha.Binaries, s setup) (r runResult, err error) {
	started := time.Now()
	r = runResult{Setup: s.name, Instances: o.instances, Pods: o.pods, Secrets: o.secrets, Nodes: o.nodes, Agents: o.agents}
	var runner sim.ContainerRunner
	if o.agents {
		runner = simirisha.Runner(bins, simirisha.RunnerOptions{})
	}
	bootCtx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()
	// Without -agents the instances' pods are virtual: Ready as if their
	// probes passed, so that what is timed is the control plane and irisha.
	c, err := sim.Start(bootCtx, sim.Options{Nodes: o.nodes, WorkDir: o.workDir, KeepWorkDir: o.keep, Log: o.log, Runner: runner,
		VirtualContainersReady: !o.agents})
	if err != nil {
		return r, fmt.Errorf("starting the sim: %w", err)
	}
	defer func() {
		if o.keep {
			progress("Keeping the cluster's work directory %s", c.Dir())
		}
		if serr := c.Stop(); serr != nil && err == nil {
			err = fmt.Errorf("stopping the cluster: %w", serr)
		}
	}()
	cl, err := benchClient(c)
	if err != nil {
		return r, err
	}
	progress("Creating %d unrelated Secrets and %d unrelated pods", o.secrets, o.pods)
	if r.SecretBytes, err = populate(bootCtx, c, cl, o); err != nil {
		return r, err
	}
	if err := c.CreateNamespace(bootCtx, instanceNamespace); err != nil {
		return r, err
	}
	progress("Starting the operator (%s)", s.manager)
	opBins := bins
	opBins.Manager = s.manager
	op, err := simirisha.StartOperator(bootCtx, c, opBins, simirisha.OperatorOptions{})
	if err != nil {
		return r, err
	}
	pid := op.PID()
	select {
	case <-ctx.Done():
		return r, ctx.Err()
	case <-time.After(settle):
	}
	if r.RSSSyncedMiB, _, err = memory(pid); err != nil {
		return r, err
	}
	sampler := sampleRSS(pid)

	progress("Creating %d IrisInstances one after another", o.instances)
	for i := range o.instances {
		lat, err := createAndWait(ctx, cl, fmt.Sprintf("iris-%03d", i+1), o.timeout)
		if err != nil {
			return r, err
		}
		r.Latencies = append(r.Latencies, lat)
		if (i+1)%10 == 0 {
			progress("%d instances created", i+1)
		}
	}
	sampler.stop()
	if r.RSSEndMiB, r.RSSPeakMiB, err = memory(pid); err != nil {
		return r, err
	}
	r.RSSPeakMiB = max(r.RSSPeakMiB, sampler.peak())
	if r.CPUSeconds, err = cpuSeconds(pid); err != nil {
		return r, err
	}
	r.Wall = time.Since(started).Seconds()
	return r, nil
}

// benchClient is the benchmark's own client, past the rate limits that
// would make creating thousands of objects slow.
func benchClient(c *sim.Cluster) (client.WithWatch, error) {
	scheme, err := operator.NewScheme()
	if err != nil {
		return nil, err
	}
	cfg := c.RESTConfig()
	cfg.QPS, cfg.Burst = 1000, 2000
	cl, err := client.NewWithWatch(cfg, client.Options{Scheme: scheme})
	if err != nil {
		return nil, fmt.Errorf("creating the benchmark's client: %w", err)
	}
	return cl, nil
}

// populate creates the unrelated Secrets and pods, spread over
// appNamespaces namespaces; the pods are bound to the simulated nodes
// directly (the scheduler would only take longer), and waited for until
// every one runs, so their status writes are over before the operator
// starts. It returns the Secrets' data size.
func populate(ctx context.Context, c *sim.Cluster, cl client.Client, o options) (int64, error) {
	var nss []string
	for i := range appNamespaces {
		ns := fmt.Sprintf("app-%02d", i)
		if err := c.CreateNamespace(ctx, ns); err != nil {
			return 0, err
		}
		nss = append(nss, ns)
	}
	nodes := c.Nodes()
	var mu sync.Mutex
	var secretBytes int64
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(workers)
	for i := range o.secrets {
		g.Go(func() error {
			data := make([]byte, 1024+rand.IntN(3*1024+1))
			for j := range data {
				data[j] = byte('a' + rand.IntN(26))
			}
			s := &corev1.Secret{
				ObjectMeta: metav1.ObjectMeta{Namespace: nss[i%len(nss)], Name: fmt.Sprintf("app-secret-%04d", i), Labels: map[string]string{"app": fmt.Sprintf("app-%d", i%50)}},
				Data:       map[string][]byte{"token": data},
			}
			if err := cl.Create(gctx, s); err != nil {
				return fmt.Errorf("creating Secret %s: %w", s.Name, err)
			}
			mu.Lock()
			secretBytes += int64(len(data))
			mu.Unlock()
			return nil
		})
	}
	for i := range o.pods {
		g.Go(func() error {
			p := &corev1.Pod{
				ObjectMeta: metav1.ObjectMeta{Namespace: nss[i%len(nss)], Name: fmt.Sprintf("app-%04d", i), Labels: map[string]string{"app": fmt.Sprintf("app-%d", i%50)}},
				Spec: corev1.PodSpec{
					NodeName:   nodes[i%len(nodes)].Name,
					Containers: []corev1.Container{{Name: "app", Image: "registry.example.com/app:1.0", Args: []string{"--serve"}}},
				},
			}
			if err := cl.Create(gctx, p); err != nil {
				return fmt.Errorf("creating pod %s: %w", p.Name, err)
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return 0, err
	}
	return secretBytes, waitRunning(ctx, cl, o.pods)
}

// waitRunning polls until n pods outside the instances' namespace run.
func waitRunning(ctx context.Context, cl client.Client, n int) error {
	for {
		pods := &corev1.PodList{}
		if err := cl.List(ctx, pods); err != nil {
			return fmt.Errorf("listing pods: %w", err)
		}
		running := 0
		for i := range pods.Items {
			if pods.Items[i].Status.Phase == corev1.PodRunning && pods.Items[i].Namespace != instanceNamespace {
				running++
			}
		}
		if running >= n {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for the unrelated pods to run (%d of %d): %w", running, n, ctx.Err())
		case <-time.After(2 * time.Second):
		}
	}
}

func instanceSpec(name string) *v1alpha1.IrisInstance {
	return &v1alpha1.IrisInstance{
		ObjectMeta: metav1.ObjectMeta{Namespace: instanceNamespace, Name: name},
		Spec: v1alpha1.IrisInstanceSpec{
			Image:    irisImage,
			Storage:  v1alpha1.StorageSpec{ClassName: ptr.To(sim.LonghornClass), Size: resource.MustParse("1Gi")},
			Failover: v1alpha1.FailoverSpec{Mode: v1alpha1.FailoverLease, LeaseDurationSeconds: 10},
		},
	}
}

// createAndWait creates the instance under a watch of it and returns the
// seconds from the watch's ADDED event to the event showing it Ready, both
// taken when the benchmark read them; nil if it is not Ready within
// timeout.
func createAndWait(ctx context.Context, cl client.WithWatch, name string, timeout time.Duration) (*float64, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	w, err := cl.Watch(ctx, &v1alpha1.IrisInstanceList{}, client.InNamespace(instanceNamespace), client.MatchingFields{"metadata.name": name})
	if err != nil {
		return nil, fmt.Errorf("watching IrisInstance %s: %w", name, err)
	}
	defer w.Stop()
	if err := cl.Create(ctx, instanceSpec(name)); err != nil {
		return nil, fmt.Errorf("creating IrisInstance %s: %w", name, err)
	}
	var added time.Time
	for {
		select {
		case <-ctx.Done():
			progress("IrisInstance %s not Ready within %s", name, timeout)
			return nil, nil
		case ev, ok := <-w.ResultChan():
			if !ok {
				// Not expected within minutes; counted as not Ready
				// rather than guessed at.
				progress("The watch of IrisInstance %s ended", name)
				return nil, nil
			}
			now := time.Now()
			inst, isInst := ev.Object.(*v1alpha1.IrisInstance)
			if !isInst {
				continue
			}
			if ev.Type == watch.Added && added.IsZero() {
				added = now
			}
			if !added.IsZero() && ready(inst) {
				s := now.Sub(added).Seconds()
				return &s, nil
			}
		}
	}
}

func ready(inst *v1alpha1.IrisInstance) bool {
	for _, c := range inst.Status.Conditions {
		if c.Type == v1alpha1.ConditionReady {
			return c.Status == metav1.ConditionTrue
		}
	}
	return false
}
