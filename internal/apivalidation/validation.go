// Package apivalidation validates and defaults irisha objects offline with the
// very schema the API server uses: the generated CRD, its OpenAPI rules, its
// defaults and its CEL rules. `irisha render` uses it so that a file it
// accepts is a file the API server accepts, and a test uses it to prove that
// IrisInstance.WithDefaults matches the CRD's defaults.
package apivalidation

import (
	"context"
	"fmt"
	"math"

	apiextensionsinternal "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	structuralschema "k8s.io/apiextensions-apiserver/pkg/apiserver/schema"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/cel"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/defaulting"
	apiservervalidation "k8s.io/apiextensions-apiserver/pkg/apiserver/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
	celconfig "k8s.io/apiserver/pkg/apis/cel"
	"sigs.k8s.io/yaml"

	"github.com/irisha/irisha/config"
)

// Validator checks objects of one CRD version.
type Validator struct {
	kind       string
	structural *structuralschema.Structural
	schema     apiservervalidation.SchemaValidator
	cel        *cel.Validator
}

// ForKind returns the validator of the embedded CRD whose kind is kind, at
// its storage version.
func ForKind(kind string) (*Validator, error) {
	docs, err := config.CRDs()
	if err != nil {
		return nil, err
	}
	for _, doc := range docs {
		crd := &apiextensionsv1.CustomResourceDefinition{}
		if err := yaml.Unmarshal(doc, crd); err != nil {
			return nil, fmt.Errorf("decoding embedded CRD: %w", err)
		}
		if crd.Spec.Names.Kind != kind {
			continue
		}
		for _, v := range crd.Spec.Versions {
			if v.Storage && v.Schema != nil {
				return newValidator(kind, v.Schema.OpenAPIV3Schema)
			}
		}
	}
	return nil, fmt.Errorf("no embedded CRD for kind %s", kind)
}

func newValidator(kind string, v1schema *apiextensionsv1.JSONSchemaProps) (*Validator, error) {
	internal := &apiextensionsinternal.JSONSchemaProps{}
	if err := apiextensionsv1.Convert_v1_JSONSchemaProps_To_apiextensions_JSONSchemaProps(v1schema, internal, nil); err != nil {
		return nil, fmt.Errorf("converting the %s schema: %w", kind, err)
	}
	structural, err := structuralschema.NewStructural(internal)
	if err != nil {
		return nil, fmt.Errorf("the %s schema is not structural: %w", kind, err)
	}
	sv, _, err := apiservervalidation.NewSchemaValidator(internal)
	if err != nil {
		return nil, fmt.Errorf("building the %s schema validator: %w", kind, err)
	}
	return &Validator{
		kind:       kind,
		structural: structural,
		schema:     sv,
		cel:        cel.NewValidator(structural, true, celconfig.PerCallLimit),
	}, nil
}

// Default applies the schema's defaults to obj (a decoded JSON object) in place.
func (v *Validator) Default(obj map[string]any) {
	defaulting.Default(obj, v.structural)
}

// Validate checks obj as the API server checks a create (so rules that compare
// with the old object do not apply). obj should be defaulted first, as the
// server does.
func (v *Validator) Validate(ctx context.Context, obj map[string]any) field.ErrorList {
	errs := apiservervalidation.ValidateCustomResource(nil, obj, v.schema)
	if len(errs) > 0 {
		// CEL rules assume a schema-valid object.
		return errs
	}
	celErrs, _ := v.cel.Validate(ctx, nil, v.structural, obj, nil, math.MaxInt64)
	return append(errs, celErrs...)
}
