package main

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/irisha/irisha/internal/sim"
	"github.com/irisha/irisha/internal/sim/observe"
	"github.com/irisha/irisha/internal/sim/reference"
)

// Scenarios and setups.
const (
	podDelete           = "pod-delete"
	containerCrash      = "container-crash"
	drain               = "drain"
	nodeKill            = "node-kill"
	nodeKillForceDelete = "node-kill-force-delete"
)

var (
	// allScenarios, slowest first so that they start first.
	allScenarios = []string{nodeKill, nodeKillForceDelete, drain, containerCrash, podDelete}
	allSetups    = []string{sim.LonghornClass, sim.LocalClass}
)

// namespace the reference deployment goes to.
const namespace = "bench"

// bootTimeout bounds booting a cluster and deploying the reference.
const bootTimeout = 5 * time.Minute

type options struct {
	setups, scenarios []string
	timeout           time.Duration
	parallel, nodes   int
	fast              bool
	log               logr.Logger
}

func (o options) validate() error {
	for _, s := range o.scenarios {
		if !slices.Contains(allScenarios, s) {
			return fmt.Errorf("unknown scenario %q (known: %s)", s, strings.Join(allScenarios, ", "))
		}
	}
	for _, s := range o.setups {
		if !slices.Contains(allSetups, s) {
			return fmt.Errorf("unknown setup %q (known: %s)", s, strings.Join(allSetups, ", "))
		}
	}
	if o.parallel < 1 || o.nodes < 2 {
		return fmt.Errorf("need -parallel >= 1 and -nodes >= 2")
	}
	return nil
}

func (o options) timings() sim.Timings {
	if o.fast {
		return sim.FastTimings()
	}
	return sim.DefaultTimings()
}

func (o options) timingsName() string {
	if o.fast {
		return "fast (sim.FastTimings)"
	}
	return "Kubernetes defaults"
}

// runAll runs every (scenario, setup) pair in a cluster of its own, at most
// o.parallel at once, and returns the results in table order.
func runAll(ctx context.Context, o options) ([]result, error) {
	type job struct{ setup, scenario string }
	var jobs []job
	for _, sc := range allScenarios {
		if !slices.Contains(o.scenarios, sc) {
			continue
		}
		for _, st := range o.setups {
			jobs = append(jobs, job{st, sc})
		}
	}
	results := make([]result, len(jobs))
	// Workers take jobs in order, so the slow scenarios start first and the
	// quick ones fill the slots that free up.
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(o.parallel, len(jobs)) {
		wg.Go(func() {
			for i := range next {
				results[i] = runOne(ctx, o, jobs[i].setup, jobs[i].scenario)
			}
		})
	}
	for i := range jobs {
		next <- i
	}
	close(next)
	wg.Wait()
	if ctx.Err() != nil {
		return nil, fmt.Errorf("interrupted: %w", ctx.Err())
	}
	sort.SliceStable(results, func(a, b int) bool {
		return slices.Index(allSetups, results[a].Setup) < slices.Index(allSetups, results[b].Setup)
	})
	return results, nil
}

// runOne boots a cluster, deploys the reference, injects the fault and
// measures until recovery or o.timeout.
func runOne(ctx context.Context, o options, setup, scenario string) result {
	res := result{Setup: setup, Scenario: scenario}
	log := o.log.WithValues("setup", setup, "scenario", scenario)
	bootCtx, cancel := context.WithTimeout(ctx, bootTimeout)
	defer cancel()
	c, err := sim.Start(bootCtx, sim.Options{Nodes: o.nodes, Timings: o.timings(), Log: log})
	if err != nil {
		res.Error = err.Error()
		return res
	}
	defer func() {
		if err := c.Stop(); err != nil {
			log.Error(err, "Stopping the cluster")
		}
	}()
	runCtx, stopWatch := context.WithCancel(ctx)
	defer stopWatch()
	sel := labels.SelectorFromSet(labels.Set{"app": "iris"})
	attachRequired, err := observe.AttachRequiredFrom(bootCtx, c.Clientset())
	if err != nil {
		res.Error = err.Error()
		return res
	}
	w1 := observe.NewW1(sel)
	rto := observe.NewRTO(namespace, sel, attachRequired)
	tl := observe.NewTimeline(namespace, sel)
	if err := observe.Watch(runCtx, c.Clientset(), w1.Sink(), rto.Sink(), tl.Sink()); err != nil {
		res.Error = err.Error()
		return res
	}
	old, err := deploy(bootCtx, c, setup)
	if err != nil {
		res.Error = err.Error()
		return res
	}
	log.Info("Reference deployment running; injecting the fault", "pod", old.Name, "node", old.Spec.NodeName)
	res.OldNode = old.Spec.NodeName
	faultAt := time.Now()
	rto.Fault(faultAt, &old)
	tl.Fault(faultAt, &old)
	if err := inject(runCtx, c, scenario, old, log); err != nil {
		res.Error = err.Error()
		return res
	}
	select {
	case <-rto.Done():
		res.Recovered = true
		res.RTOSeconds = rto.Elapsed().Seconds()
		_, by, _ := rto.Recovered()
		if p, err := c.Clientset().CoreV1().Pods(namespace).Get(runCtx, by, metav1.GetOptions{}); err == nil {
			res.NewNode = p.Spec.NodeName
		}
	case <-time.After(o.timeout - time.Since(faultAt)):
		res.TimeoutMinutes = o.timeout.Minutes()
	case <-ctx.Done():
		res.Error = ctx.Err().Error()
		return res
	}
	log.Info("Scenario done", "recovered", res.Recovered, "rto", res.RTOSeconds)
	for _, m := range tl.Milestones() {
		res.Timeline = append(res.Timeline, milestone{Key: m.Key, Seconds: m.At.Sub(faultAt).Seconds(), Detail: m.Detail})
	}
	res.State = finalState(context.WithoutCancel(runCtx), c, old)
	for _, v := range w1.Violations() {
		res.W1Violations = append(res.W1Violations, fmt.Sprintf("%s %s %v", v.Kind, v.Subject, v.Holders))
	}
	return res
}

func deploy(ctx context.Context, c *sim.Cluster, setup string) (corev1.Pod, error) {
	if err := c.CreateNamespace(ctx, namespace); err != nil {
		return corev1.Pod{}, err
	}
	manifests, err := reference.WithStorageClass(setup)
	if err != nil {
		return corev1.Pod{}, err
	}
	if err := c.Create(ctx, namespace, manifests); err != nil {
		return corev1.Pod{}, err
	}
	pods, err := sim.WaitForPods(ctx, c.Clientset(), namespace, reference.Selector, func(pods []corev1.Pod) bool {
		return len(pods) == 1 && sim.PodReady(&pods[0])
	})
	if err != nil {
		return corev1.Pod{}, err
	}
	return pods[0], nil
}

// inject starts the fault. Drain and the force delete continue in the
// background, as an operator's commands would.
func inject(ctx context.Context, c *sim.Cluster, scenario string, old corev1.Pod, log logr.Logger) error {
	switch scenario {
	case podDelete:
		return c.DeletePod(ctx, namespace, old.Name)
	case containerCrash:
		return c.CrashContainer(ctx, namespace, old.Name, reference.Container)
	case drain:
		go func() {
			if err := c.Drain(ctx, old.Spec.NodeName); err != nil && ctx.Err() == nil {
				log.Error(err, "Drain")
			}
		}()
		return nil
	case nodeKill:
		return c.Node(old.Spec.NodeName).Kill()
	case nodeKillForceDelete:
		if err := c.Node(old.Spec.NodeName).Kill(); err != nil {
			return err
		}
		// The documented manual remedy: once Kubernetes has marked the pod
		// for deletion, an admin force-deletes it.
		go func() {
			if err := forceDeleteWhenTerminating(ctx, c, old); err != nil && ctx.Err() == nil {
				log.Error(err, "Force delete")
			}
		}()
		return nil
	}
	return fmt.Errorf("unknown scenario %q", scenario)
}

func forceDeleteWhenTerminating(ctx context.Context, c *sim.Cluster, old corev1.Pod) error {
	_, err := sim.WaitForPods(ctx, c.Clientset(), namespace, reference.Selector, func(pods []corev1.Pod) bool {
		for _, p := range pods {
			if p.UID == old.UID {
				return p.DeletionTimestamp != nil
			}
		}
		return true
	})
	if err != nil {
		return err
	}
	zero := int64(0)
	err = c.Clientset().CoreV1().Pods(namespace).Delete(ctx, old.Name, metav1.DeleteOptions{GracePeriodSeconds: &zero})
	if err != nil {
		return fmt.Errorf("force-deleting %s: %w", old.Name, err)
	}
	return nil
}

// finalState describes the application's pods when the run ended.
func finalState(ctx context.Context, c *sim.Cluster, old corev1.Pod) string {
	pods, err := c.Clientset().CoreV1().Pods(namespace).List(ctx, metav1.ListOptions{LabelSelector: reference.Selector})
	if err != nil {
		return "unknown: " + err.Error()
	}
	var parts []string
	for _, p := range pods.Items {
		role := "replacement"
		if p.UID == old.UID {
			role = "old pod"
		}
		parts = append(parts, fmt.Sprintf("%s %s", role, describePod(&p)))
	}
	sort.Strings(parts)
	return strings.Join(parts, "; ")
}

func describePod(p *corev1.Pod) string {
	switch {
	case p.DeletionTimestamp != nil:
		return "Terminating on " + p.Spec.NodeName
	case p.Spec.NodeName == "":
		for _, cnd := range p.Status.Conditions {
			if cnd.Type == corev1.PodScheduled && cnd.Status == corev1.ConditionFalse {
				return "Pending (unschedulable: " + cnd.Message + ")"
			}
		}
		return "Pending"
	}
	for _, cs := range p.Status.ContainerStatuses {
		if cs.State.Waiting != nil {
			return fmt.Sprintf("%s on %s (%s)", cs.State.Waiting.Reason, p.Spec.NodeName, cs.State.Waiting.Message)
		}
	}
	return fmt.Sprintf("%s on %s", p.Status.Phase, p.Spec.NodeName)
}
