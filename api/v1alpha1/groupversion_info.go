// Package v1alpha1 holds the irisha.dev/v1alpha1 API: IrisInstance, and later
// IrisBackup and IrisScheduledBackup. Types carry only fields and kubebuilder
// markers; behaviour lives next door in the *_funcs.go files. The package
// depends on apimachinery and core types only, so it is cheap to import.
//
// +kubebuilder:object:generate=true
// +groupName=irisha.dev
package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

var (
	// GroupVersion is the group and version of every type in this package.
	GroupVersion = schema.GroupVersion{Group: "irisha.dev", Version: "v1alpha1"}

	// SchemeBuilder registers the types of this package with a runtime.Scheme.
	SchemeBuilder = runtime.NewSchemeBuilder(addKnownTypes)

	// AddToScheme adds the types of this package to a runtime.Scheme.
	AddToScheme = SchemeBuilder.AddToScheme
)

func addKnownTypes(s *runtime.Scheme) error {
	s.AddKnownTypes(GroupVersion,
		&IrisInstance{}, &IrisInstanceList{},
		&IrisBackup{}, &IrisBackupList{},
		&IrisScheduledBackup{}, &IrisScheduledBackupList{},
	)
	metav1.AddToGroupVersion(s, GroupVersion)
	return nil
}
