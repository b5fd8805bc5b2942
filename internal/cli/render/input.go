package render

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"

	"github.com/irisha/irisha/api/v1alpha1"
	"github.com/irisha/irisha/internal/apivalidation"
	"github.com/irisha/irisha/internal/resources"
)

// input is what the files hold: instances, and the ConfigMaps and Secrets
// they may reference.
type input struct {
	instances  []*v1alpha1.IrisInstance
	configMaps map[string]*corev1.ConfigMap
	secrets    map[string]*corev1.Secret
}

var _ resources.Lookup = (*input)(nil)

func key(namespace, name string) string { return namespace + "/" + name }

// decodeFile reads every YAML document of one file. Unknown fields are errors
// (the API server would silently drop them, hiding a typo), and each
// IrisInstance is defaulted and validated with the CRD's own schema.
func (in *input) decodeFile(ctx context.Context, name string, r io.Reader, v *apivalidation.Validator) error {
	reader := utilyaml.NewYAMLReader(bufio.NewReader(r))
	for doc := 1; ; doc++ {
		raw, err := reader.Read()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("%s: reading document %d: %w", name, doc, err)
		}
		if len(bytes.TrimSpace(raw)) == 0 || isOnlyComments(raw) {
			continue
		}
		where := fmt.Sprintf("%s: document %d", name, doc)
		if err := in.decodeDoc(ctx, where, raw, v); err != nil {
			return err
		}
	}
}

func (in *input) decodeDoc(ctx context.Context, where string, raw []byte, v *apivalidation.Validator) error {
	var tm metav1.TypeMeta
	if err := yaml.Unmarshal(raw, &tm); err != nil {
		return fmt.Errorf("%s: not a Kubernetes object: %w", where, err)
	}
	switch {
	case tm.APIVersion == v1alpha1.GroupVersion.String() && tm.Kind == "IrisInstance":
		inst, err := decodeInstance(ctx, where, raw, v)
		if err != nil {
			return err
		}
		in.instances = append(in.instances, inst)
	case tm.APIVersion == "v1" && tm.Kind == "ConfigMap":
		cm := &corev1.ConfigMap{}
		if err := yaml.UnmarshalStrict(raw, cm); err != nil {
			return fmt.Errorf("%s: ConfigMap: %w", where, err)
		}
		in.configMaps[key(cm.Namespace, cm.Name)] = cm
	case tm.APIVersion == "v1" && tm.Kind == "Secret":
		s := &corev1.Secret{}
		if err := yaml.UnmarshalStrict(raw, s); err != nil {
			return fmt.Errorf("%s: Secret: %w", where, err)
		}
		// The API server folds stringData into data; so must we.
		if s.Data == nil {
			s.Data = map[string][]byte{}
		}
		for k, val := range s.StringData {
			s.Data[k] = []byte(val)
		}
		in.secrets[key(s.Namespace, s.Name)] = s
	default:
		return fmt.Errorf("%s: %s %s is not an input of render: give IrisInstances, and the ConfigMaps and Secrets they reference", where, tm.APIVersion, tm.Kind)
	}
	return nil
}

func decodeInstance(ctx context.Context, where string, raw []byte, v *apivalidation.Validator) (*v1alpha1.IrisInstance, error) {
	inst := &v1alpha1.IrisInstance{}
	if err := yaml.UnmarshalStrict(raw, inst); err != nil {
		return nil, fmt.Errorf("%s: IrisInstance: %w", where, err)
	}
	if inst.Name == "" {
		return nil, fmt.Errorf("%s: IrisInstance has no metadata.name", where)
	}
	var obj map[string]any
	if err := yaml.Unmarshal(raw, &obj); err != nil {
		return nil, fmt.Errorf("%s: IrisInstance %s: %w", where, inst.Name, err)
	}
	v.Default(obj)
	if errs := v.Validate(ctx, obj); len(errs) > 0 {
		return nil, fmt.Errorf("%s: IrisInstance %s is invalid: %w", where, inst.Name, errs.ToAggregate())
	}
	defaulted, err := yaml.Marshal(obj)
	if err != nil {
		return nil, fmt.Errorf("%s: IrisInstance %s: %w", where, inst.Name, err)
	}
	out := &v1alpha1.IrisInstance{}
	if err := yaml.Unmarshal(defaulted, out); err != nil {
		return nil, fmt.Errorf("%s: IrisInstance %s: %w", where, inst.Name, err)
	}
	return out, nil
}

func (in *input) ConfigMapData(_ context.Context, namespace, name string) (map[string]string, error) {
	cm, ok := in.configMaps[key(namespace, name)]
	if !ok {
		return nil, fmt.Errorf("%w (render reads referenced objects from its input files: add the ConfigMap to them)", resources.NotFound("ConfigMap", namespace, name))
	}
	return cm.Data, nil
}

func (in *input) SecretData(_ context.Context, namespace, name string) (map[string][]byte, error) {
	s, ok := in.secrets[key(namespace, name)]
	if !ok {
		return nil, fmt.Errorf("%w (render reads referenced objects from its input files: add the Secret to them; it is not printed)", resources.NotFound("Secret", namespace, name))
	}
	return s.Data, nil
}

func isOnlyComments(raw []byte) bool {
	for _, line := range bytes.Split(raw, []byte("\n")) {
		line = bytes.TrimSpace(line)
		if len(line) > 0 && line[0] != '#' {
			return false
		}
	}
	return true
}
