package v1alpha1

import (
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// Defaults that mirror the +kubebuilder:default markers of the types. The API
// server applies the markers; WithDefaults applies the same values to objects
// that never went through a server (irisha render, unit tests).
const (
	DefaultDataSubdirectory       = "IRIS"
	DefaultShutdownTimeoutSeconds = 300
	DefaultLeaseDurationSeconds   = 10
	DefaultMergeKey               = "merge.cpf"
	DefaultLicenseKey             = "iris.key"
)

// WithDefaults returns a copy of the instance with every unset field that has
// a default filled in, exactly as the API server would.
func (in *IrisInstance) WithDefaults() *IrisInstance {
	out := in.DeepCopy()
	s := &out.Spec
	if s.Storage.AccessMode == "" {
		s.Storage.AccessMode = corev1.ReadWriteOnce
	}
	if s.Storage.DataSubdirectory == "" {
		s.Storage.DataSubdirectory = DefaultDataSubdirectory
	}
	if s.Storage.DeletionPolicy == "" {
		s.Storage.DeletionPolicy = PVCRetain
	}
	if s.Config != nil && s.Config.ConfigMapRef != nil && s.Config.ConfigMapRef.Key == "" {
		s.Config.ConfigMapRef.Key = DefaultMergeKey
	}
	if s.LicenseKeySecret != nil && s.LicenseKeySecret.Key == "" {
		s.LicenseKeySecret.Key = DefaultLicenseKey
	}
	if s.Service.Type == "" {
		s.Service.Type = corev1.ServiceTypeClusterIP
	}
	if s.ShutdownTimeoutSeconds == 0 {
		s.ShutdownTimeoutSeconds = DefaultShutdownTimeoutSeconds
	}
	if s.Failover.Mode == "" {
		s.Failover.Mode = FailoverLease
	}
	if s.Failover.LeaseDurationSeconds == 0 {
		s.Failover.LeaseDurationSeconds = DefaultLeaseDurationSeconds
	}
	return out
}

// IsCommunityImage reports whether the image is an IRIS Community Edition,
// the only edition whose container still ships the private web server on
// 52773 (from 2023.2 on, others need a Web Gateway).
func (s *IrisInstanceSpec) IsCommunityImage() bool {
	repo := s.Image
	if i := strings.LastIndex(repo, "/"); i >= 0 {
		repo = repo[i+1:]
	}
	if i := strings.IndexAny(repo, ":@"); i >= 0 {
		repo = repo[:i]
	}
	return strings.HasSuffix(repo, "-community")
}

// ExposedPorts returns the ports the Service exposes: the explicit list, or
// superserver plus web on Community images.
func (s *IrisInstanceSpec) ExposedPorts() []IrisPort {
	if len(s.Service.Ports) > 0 {
		return s.Service.Ports
	}
	if s.IsCommunityImage() {
		return []IrisPort{PortSuperserver, PortWeb}
	}
	return []IrisPort{PortSuperserver}
}

// Exposes reports whether the Service exposes the port.
func (s *IrisInstanceSpec) Exposes(p IrisPort) bool {
	for _, e := range s.ExposedPorts() {
		if e == p {
			return true
		}
	}
	return false
}
