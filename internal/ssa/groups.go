package ssa

import (
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// group is a named part of an object, as a user would call it in an Event.
type group struct {
	name string
	of   func(client.Object) any
}

// ChangedGroups names the parts of an object that differ between before and
// after, in a fixed order: "replicas", "container iris command", "rules".
// Both must be of the same type. Parts are compared semantically (1Gi equals
// 1073741824).
func ChangedGroups(before, after client.Object) []string {
	var out []string
	for _, g := range groupsOf(before, after) {
		if !equality.Semantic.DeepEqual(g.of(before), g.of(after)) {
			out = append(out, g.name)
		}
	}
	return out
}

func groupsOf(before, after client.Object) []group {
	meta := []group{
		{"labels", func(o client.Object) any { return o.GetLabels() }},
		{"annotations", func(o client.Object) any { return o.GetAnnotations() }},
		{"owner references", func(o client.Object) any { return o.GetOwnerReferences() }},
	}
	switch before.(type) {
	case *appsv1.Deployment:
		return append(meta, deploymentGroups(before.(*appsv1.Deployment), after.(*appsv1.Deployment))...)
	case *corev1.Service:
		return append(meta,
			group{"type", func(o client.Object) any { return o.(*corev1.Service).Spec.Type }},
			group{"ports", func(o client.Object) any { return o.(*corev1.Service).Spec.Ports }},
			group{"selector", func(o client.Object) any { return o.(*corev1.Service).Spec.Selector }},
			group{"spec", func(o client.Object) any {
				s := o.(*corev1.Service).Spec
				s.Type, s.Ports, s.Selector = "", nil, nil
				return s
			}},
		)
	case *rbacv1.Role:
		return append(meta, group{"rules", func(o client.Object) any { return o.(*rbacv1.Role).Rules }})
	case *rbacv1.RoleBinding:
		return append(meta,
			group{"subjects", func(o client.Object) any { return o.(*rbacv1.RoleBinding).Subjects }},
			group{"role", func(o client.Object) any { return o.(*rbacv1.RoleBinding).RoleRef }},
		)
	case *corev1.Secret:
		return append(meta,
			group{"data", func(o client.Object) any { return o.(*corev1.Secret).Data }},
			group{"type", func(o client.Object) any { return o.(*corev1.Secret).Type }},
		)
	case *corev1.PersistentVolumeClaim:
		return append(meta,
			group{"storage request", func(o client.Object) any {
				return o.(*corev1.PersistentVolumeClaim).Spec.Resources.Requests[corev1.ResourceStorage]
			}},
			group{"spec", func(o client.Object) any {
				s := *o.(*corev1.PersistentVolumeClaim).Spec.DeepCopy()
				delete(s.Resources.Requests, corev1.ResourceStorage)
				return s
			}},
		)
	}
	return meta
}

// deploymentGroups names what users edit in a Deployment: its replicas, each
// container's command and the rest of it, and the pod spec around them.
// Containers are matched by name, the key the API server merges them by.
func deploymentGroups(before, after *appsv1.Deployment) []group {
	dep := func(o client.Object) *appsv1.Deployment { return o.(*appsv1.Deployment) }
	out := []group{
		{"replicas", func(o client.Object) any { return dep(o).Spec.Replicas }},
		{"selector", func(o client.Object) any { return dep(o).Spec.Selector }},
		{"strategy", func(o client.Object) any { return dep(o).Spec.Strategy }},
		{"pod template metadata", func(o client.Object) any { return dep(o).Spec.Template.ObjectMeta }},
	}
	for _, kind := range []struct {
		name string
		of   func(*corev1.PodSpec) []corev1.Container
	}{
		{"init container", func(s *corev1.PodSpec) []corev1.Container { return s.InitContainers }},
		{"container", func(s *corev1.PodSpec) []corev1.Container { return s.Containers }},
	} {
		for _, name := range containerNames(kind.of(&before.Spec.Template.Spec), kind.of(&after.Spec.Template.Spec)) {
			c := func(o client.Object) *corev1.Container {
				for _, c := range kind.of(&dep(o).Spec.Template.Spec) {
					if c.Name == name {
						return &c
					}
				}
				return nil
			}
			out = append(out,
				group{fmt.Sprintf("%s %s command", kind.name, name), func(o client.Object) any {
					// A container added or removed is named once, below.
					var command, args []string
					if c := c(o); c != nil {
						command, args = c.Command, c.Args
					}
					return [][]string{command, args}
				}},
				group{fmt.Sprintf("%s %s", kind.name, name), func(o client.Object) any {
					if c := c(o); c != nil {
						c.Command, c.Args = nil, nil
						return c
					}
					return nil
				}},
			)
		}
	}
	return append(out,
		group{"volumes", func(o client.Object) any { return dep(o).Spec.Template.Spec.Volumes }},
		group{"pod spec", func(o client.Object) any {
			s := *dep(o).Spec.Template.Spec.DeepCopy()
			s.Containers, s.InitContainers, s.Volumes = nil, nil, nil
			return s
		}},
	)
}

// containerNames lists the names in either list, those of a first.
func containerNames(a, b []corev1.Container) []string {
	var out []string
	seen := map[string]bool{}
	for _, c := range append(append([]corev1.Container(nil), a...), b...) {
		if !seen[c.Name] {
			seen[c.Name] = true
			out = append(out, c.Name)
		}
	}
	return out
}
