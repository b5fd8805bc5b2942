package resources

import (
	"errors"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/irisha/irisha/internal/iris"
)

// MergeFileKey is the key of the merge Secret and the file name IRIS reads.
const MergeFileKey = "merge.cpf"

// InvalidConfigError is a CPF merge text that does not parse or breaks a rule;
// its message names the line.
type InvalidConfigError struct{ Err error }

func (e *InvalidConfigError) Error() string { return "invalid CPF merge: " + e.Err.Error() }
func (e *InvalidConfigError) Unwrap() error { return e.Err }

// IsInvalidConfig reports whether err is an InvalidConfigError.
func IsInvalidConfig(err error) bool {
	var ic *InvalidConfigError
	return errors.As(err, &ic)
}

// EffectiveMerge is the merge file IRIS gets: the user's text plus the
// settings irisha owns — [Startup] ShutdownTimeout, so that the pod's grace
// period is always above it, and PasswordHash when the password Secret has one.
func EffectiveMerge(in Inputs) (string, error) {
	m, err := iris.ParseMerge(in.MergeText)
	if err != nil {
		return "", &InvalidConfigError{Err: err}
	}
	if v, ok := m.Get("Startup", "ShutdownTimeout"); ok {
		return "", &InvalidConfigError{Err: fmt.Errorf("[Startup] ShutdownTimeout=%s: set spec.shutdownTimeoutSeconds instead, so the pod's grace period can follow it", v)}
	}
	if err := m.SetShutdownTimeout(int(in.Instance.Spec.ShutdownTimeoutSeconds)); err != nil {
		return "", &InvalidConfigError{Err: fmt.Errorf("spec.shutdownTimeoutSeconds: %w", err)}
	}
	if in.PasswordHash != "" {
		if err := iris.ValidatePasswordHash(in.PasswordHash); err != nil {
			return "", &InvalidConfigError{Err: fmt.Errorf("password Secret key %s: %w", PasswordHashKey, err)}
		}
		if err := m.SetPasswordHash(in.PasswordHash); err != nil {
			return "", &InvalidConfigError{Err: fmt.Errorf("password Secret key %s: %w", PasswordHashKey, err)}
		}
	}
	return m.Render(), nil
}

// MergeSecret holds the effective merge file. It is a Secret, not a ConfigMap,
// because it may carry the PasswordHash.
func MergeSecret(in Inputs, merge string) *corev1.Secret {
	inst := in.Instance
	return &corev1.Secret{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Secret"},
		ObjectMeta: objectMeta(inst, MergeSecretName(inst)),
		Type:       corev1.SecretTypeOpaque,
		Data:       map[string][]byte{MergeFileKey: []byte(merge)},
	}
}
