// Package v1alpha1 holds the irisha.dev/v1alpha1 API: IrisInstance, and later
// IrisBackup and IrisScheduledBackup. Types carry only fields and kubebuilder
// markers; behaviour lives next door in the *_funcs.go files.
//
// +kubebuilder:object:generate=true
// +groupName=irisha.dev
package v1alpha1

import (
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/scheme"
)

var (
	// GroupVersion is the group and version of every type in this package.
	GroupVersion = schema.GroupVersion{Group: "irisha.dev", Version: "v1alpha1"}

	// SchemeBuilder registers the types of this package with a runtime.Scheme.
	SchemeBuilder = &scheme.Builder{GroupVersion: GroupVersion}

	// AddToScheme adds the types of this package to a runtime.Scheme.
	AddToScheme = SchemeBuilder.AddToScheme
)
