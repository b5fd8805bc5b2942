package resources

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/irisha/irisha/api/v1alpha1"
)

// Keys of the password Secret.
const (
	PasswordKey     = "password"
	PasswordHashKey = "passwordHash"
)

// Inputs is what the builders need besides the instance itself: the contents of
// the ConfigMaps and Secrets it references, read by the caller.
type Inputs struct {
	// Instance with defaults applied (see IrisInstance.WithDefaults).
	Instance *v1alpha1.IrisInstance
	// MergeText is the user's CPF merge file, inline or from its ConfigMap.
	MergeText string
	// PasswordHash comes from the password Secret's passwordHash key; it is
	// merged as [Startup] PasswordHash, which IRIS applies once per instance.
	PasswordHash string
	// PasswordFile is true when the password Secret holds a plain password: it
	// is passed to iris-main --password-file, which applies it at every start,
	// so the Secret stays the source of truth.
	PasswordFile bool
	// AgentImage is the irisha image whose irisha-manager binary becomes
	// PID 1 of the IRIS container.
	AgentImage string
	// Restore, when set, creates the claim from a snapshot.
	Restore *Restore
	// Stopped runs no pod: the volume grows offline.
	Stopped bool
}

// Lookup reads referenced objects: the API server in the operator, the input
// files in `irisha render`. Both return a *RefError when the object is absent.
type Lookup interface {
	ConfigMapData(ctx context.Context, namespace, name string) (map[string]string, error)
	SecretData(ctx context.Context, namespace, name string) (map[string][]byte, error)
}

// RefError says what is wrong with an object the instance references: it is
// missing, lacks the key, or holds something irisha cannot use. Only the user
// can fix it, so the operator reports it instead of retrying.
type RefError struct {
	Kind, Namespace, Name string
	// Problem completes the sentence "<Kind> <namespace>/<name> ...".
	Problem string
}

func (e *RefError) Error() string {
	return fmt.Sprintf("%s %s/%s %s", e.Kind, e.Namespace, e.Name, e.Problem)
}

// NotFound returns the RefError for a missing object.
func NotFound(kind, namespace, name string) *RefError {
	return &RefError{Kind: kind, Namespace: namespace, Name: name, Problem: "not found"}
}

func missingKey(kind, namespace, name, key string) *RefError {
	return &RefError{Kind: kind, Namespace: namespace, Name: name, Problem: fmt.Sprintf("has no key %q", key)}
}

// Resolve reads what inst references and returns the builders' Inputs. The
// instance is defaulted here, so callers may pass it as stored or as written.
func Resolve(ctx context.Context, inst *v1alpha1.IrisInstance, lookup Lookup) (Inputs, error) {
	in := Inputs{Instance: inst.WithDefaults()}
	spec := &in.Instance.Spec
	ns := in.Instance.Namespace

	if spec.Config != nil {
		switch {
		case spec.Config.MergeText != nil:
			in.MergeText = *spec.Config.MergeText
		case spec.Config.ConfigMapRef != nil:
			ref := spec.Config.ConfigMapRef
			data, err := lookup.ConfigMapData(ctx, ns, ref.Name)
			if err != nil {
				return Inputs{}, fmt.Errorf("reading the CPF merge ConfigMap: %w", err)
			}
			text, ok := data[ref.Key]
			if !ok {
				return Inputs{}, missingKey("ConfigMap", ns, ref.Name, ref.Key)
			}
			in.MergeText = text
		}
	}

	if spec.PasswordSecret != nil {
		data, err := lookup.SecretData(ctx, ns, spec.PasswordSecret.Name)
		if err != nil {
			return Inputs{}, fmt.Errorf("reading the password Secret: %w", err)
		}
		hash, hasHash := data[PasswordHashKey]
		_, hasPassword := data[PasswordKey]
		switch {
		case hasHash && hasPassword:
			return Inputs{}, &RefError{Kind: "Secret", Namespace: ns, Name: spec.PasswordSecret.Name,
				Problem: fmt.Sprintf("has both %q and %q; keep one", PasswordKey, PasswordHashKey)}
		case hasHash:
			// A Secret made with `echo hash | kubectl create secret
			// --from-file` ends in a newline that is not part of the hash.
			in.PasswordHash = strings.TrimSpace(string(hash))
		case hasPassword:
			in.PasswordFile = true
		default:
			return Inputs{}, &RefError{Kind: "Secret", Namespace: ns, Name: spec.PasswordSecret.Name,
				Problem: fmt.Sprintf("has neither key %q nor %q", PasswordKey, PasswordHashKey)}
		}
	}

	if ref := spec.LicenseKeySecret; ref != nil {
		data, err := lookup.SecretData(ctx, ns, ref.Name)
		if err != nil {
			return Inputs{}, fmt.Errorf("reading the licence key Secret: %w", err)
		}
		if _, ok := data[ref.Key]; !ok {
			return Inputs{}, missingKey("Secret", ns, ref.Name, ref.Key)
		}
	}
	return in, nil
}

// IsRefError reports whether err is a *RefError.
func IsRefError(err error) bool {
	var m *RefError
	return errors.As(err, &m)
}
