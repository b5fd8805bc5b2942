package chart

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/lint/support"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"
)

// root is the repository, from this package's directory.
const root = "../../.."

const (
	release   = "irisha"
	namespace = "irisha-system"
)

// helmLabels are the labels only the chart sets (templates/_helpers.tpl,
// irisha.helmLabels): the comparison with dist/install.yaml ignores them.
// The witnesses' managed-by is irisha in dist/install.yaml (as
// resources.Witnesses sets it) and Helm in the chart.
var helmLabels = []string{"helm.sh/chart", "app.kubernetes.io/managed-by", "app.kubernetes.io/instance", "app.kubernetes.io/version"}

// allMonitoring turns on every monitoring object of the chart.
var allMonitoring = map[string]any{
	"serviceMonitor": map[string]any{"enabled": true},
	"prometheusRule": map[string]any{"enabled": true},
	"dashboard":      map[string]any{"enabled": true},
}

// TestDefaultRenderIsTheInstallManifest: `helm install irisha charts/irisha
// -n irisha-system` installs what dist/install.yaml does, but the
// Namespace, which Helm leaves to --create-namespace.
func TestDefaultRenderIsTheInstallManifest(t *testing.T) {
	want := objectsOfFile(t, filepath.Join(root, "dist", "install.yaml"))
	got := render(t, nil)
	ns := key{APIVersion: "v1", Kind: "Namespace", Name: namespace}
	if _, ok := want[ns]; !ok {
		t.Fatalf("dist/install.yaml has no Namespace %s", namespace)
	}
	delete(want, ns)
	compare(t, want, got)
}

// TestMonitoringRenderIsConfigMonitoring: with serviceMonitor,
// prometheusRule and dashboard on, the chart adds what config/monitoring
// holds, and nothing else.
func TestMonitoringRenderIsConfigMonitoring(t *testing.T) {
	want := objectsOfFile(t, filepath.Join(root, "dist", "install.yaml"))
	delete(want, key{APIVersion: "v1", Kind: "Namespace", Name: namespace})
	k := krusty.MakeKustomizer(krusty.MakeDefaultOptions())
	m, err := k.Run(filesys.MakeFsOnDisk(), filepath.Join(root, "config", "monitoring"))
	if err != nil {
		t.Fatalf("kustomize build config/monitoring: %v", err)
	}
	b, err := m.AsYaml()
	if err != nil {
		t.Fatal(err)
	}
	monitoring := objects(t, "config/monitoring", b)
	if len(monitoring) != 4 {
		t.Fatalf("config/monitoring has %d objects, want 4 (ServiceMonitor, PodMonitor, PrometheusRule, dashboard ConfigMap)", len(monitoring))
	}
	for k, o := range monitoring {
		want[k] = o
	}
	compare(t, want, render(t, allMonitoring))
}

// TestValues: the values that change the operator's command line or drop
// objects do what values.yaml says.
func TestValues(t *testing.T) {
	deployment := key{APIVersion: "apps/v1", Kind: "Deployment", Namespace: namespace, Name: "irisha-manager"}
	for _, tc := range []struct {
		name        string
		values      map[string]any
		args        []string // must be in the operator's args
		notArgs     []string // must not
		gone, there []key
	}{{
		name:    "plain HTTP metrics",
		values:  map[string]any{"metrics": map[string]any{"secure": false}},
		args:    []string{"--metrics-secure=false"},
		gone:    []key{{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "ClusterRole", Name: "irisha-metrics-auth"}},
		there:   []key{{APIVersion: "v1", Kind: "Service", Namespace: namespace, Name: "irisha-manager-metrics"}},
		notArgs: []string{"--metrics-bind-address=0"},
	}, {
		name:   "no metrics",
		values: map[string]any{"metrics": map[string]any{"enabled": false}},
		args:   []string{"--metrics-bind-address=0"},
		gone: []key{
			{APIVersion: "v1", Kind: "Service", Namespace: namespace, Name: "irisha-manager-metrics"},
			{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "ClusterRole", Name: "irisha-metrics-reader"},
		},
	}, {
		name:    "no witnesses",
		values:  map[string]any{"witnesses": map[string]any{"enabled": false}},
		notArgs: []string{"--witness-namespace=" + namespace},
		gone:    []key{{APIVersion: "apps/v1", Kind: "DaemonSet", Namespace: namespace, Name: "irisha-witness"}},
	}, {
		name:   "watched namespaces and a certificate",
		values: map[string]any{"watchNamespaces": []any{"team-a", "team-b"}, "metrics": map[string]any{"certSecret": "irisha-metrics-cert"}},
		args:   []string{"--watch-namespaces=team-a,team-b", "--metrics-cert-dir=/etc/irisha/metrics-certs"},
	}, {
		name:   "image from another registry",
		values: map[string]any{"image": map[string]any{"repository": "registry.example.com/irisha-manager", "tag": "v9.9.9"}},
		args:   []string{"--agent-image=registry.example.com/irisha-manager:v9.9.9"},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			objs := render(t, tc.values)
			d, ok := objs[deployment]
			if !ok {
				t.Fatal("no operator Deployment")
			}
			args := containerArgs(t, d)
			for _, a := range tc.args {
				if !slices.Contains(args, a) {
					t.Errorf("args %q lack %q", args, a)
				}
			}
			for _, a := range tc.notArgs {
				if slices.Contains(args, a) {
					t.Errorf("args %q have %q", args, a)
				}
			}
			for _, k := range tc.gone {
				if _, ok := objs[k]; ok {
					t.Errorf("%v is rendered", k)
				}
			}
			for _, k := range tc.there {
				if _, ok := objs[k]; !ok {
					t.Errorf("%v is not rendered", k)
				}
			}
		})
	}
}

// TestLint is `helm lint --strict` with the defaults and with every
// monitoring object on (make helm-check runs the helm binary too).
func TestLint(t *testing.T) {
	for name, vals := range map[string]map[string]any{"defaults": nil, "monitoring": allMonitoring} {
		l := action.NewLint()
		l.Strict = true
		l.Namespace = namespace
		res := l.Run([]string{filepath.Join(root, "charts", "irisha")}, vals)
		for _, m := range res.Messages {
			// --strict fails on warnings; infos ("icon is recommended")
			// are advice.
			if m.Severity >= support.WarningSev {
				t.Errorf("%s: %s", name, m)
			}
		}
		for _, err := range res.Errors {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// key names an object.
type key struct{ APIVersion, Kind, Namespace, Name string }

func (k key) String() string {
	return fmt.Sprintf("%s %s %s/%s", k.APIVersion, k.Kind, k.Namespace, k.Name)
}

// render is `helm template irisha charts/irisha -n irisha-system
// --include-crds` with vals over the chart's defaults.
func render(t *testing.T, vals map[string]any) map[key]map[string]any {
	t.Helper()
	c, err := loader.Load(filepath.Join(root, "charts", "irisha"))
	if err != nil {
		t.Fatalf("loading the chart: %v", err)
	}
	install := action.NewInstall(&action.Configuration{})
	install.DryRun, install.ClientOnly, install.Replace = true, true, true
	install.IncludeCRDs = true
	install.ReleaseName, install.Namespace = release, namespace
	// The oldest Kubernetes the chart supports (Chart.yaml kubeVersion).
	install.KubeVersion = &chartutil.KubeVersion{Version: "v1.30.0", Major: "1", Minor: "30"}
	rel, err := install.Run(c, vals)
	if err != nil {
		t.Fatalf("rendering the chart: %v", err)
	}
	return objects(t, "the chart's render", []byte(rel.Manifest))
}

func objectsOfFile(t *testing.T, path string) map[key]map[string]any {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return objects(t, path, b)
}

// objects decodes a multi-document YAML stream, with the chart-only labels
// removed, by object.
func objects(t *testing.T, what string, b []byte) map[key]map[string]any {
	t.Helper()
	out := map[key]map[string]any{}
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(b)))
	for {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("reading %s: %v", what, err)
		}
		var o map[string]any
		if err := yaml.Unmarshal(doc, &o); err != nil {
			t.Fatalf("decoding %s: %v\n%s", what, err, doc)
		}
		if o == nil {
			continue // a document of comments only
		}
		md, _ := o["metadata"].(map[string]any)
		k := key{APIVersion: str(o["apiVersion"]), Kind: str(o["kind"]), Namespace: str(md["namespace"]), Name: str(md["name"])}
		if _, dup := out[k]; dup {
			t.Fatalf("%s holds %v twice", what, k)
		}
		dropHelmLabels(md)
		if spec, ok := o["spec"].(map[string]any); ok {
			if tmpl, ok := spec["template"].(map[string]any); ok {
				tmd, _ := tmpl["metadata"].(map[string]any)
				dropHelmLabels(tmd)
			}
		}
		out[k] = o
	}
	return out
}

func dropHelmLabels(md map[string]any) {
	labels, _ := md["labels"].(map[string]any)
	for _, l := range helmLabels {
		delete(labels, l)
	}
	if labels != nil && len(labels) == 0 {
		delete(md, "labels")
	}
}

func compare(t *testing.T, want, got map[key]map[string]any) {
	t.Helper()
	var keys []key
	for k := range want {
		keys = append(keys, k)
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			keys = append(keys, k)
		}
	}
	slices.SortFunc(keys, func(a, b key) int { return strings.Compare(a.String(), b.String()) })
	if len(want) == 0 {
		t.Fatal("no objects to compare")
	}
	for _, k := range keys {
		w, inWant := want[k]
		g, inGot := got[k]
		switch {
		case !inGot:
			t.Errorf("the chart does not render %v", k)
		case !inWant:
			t.Errorf("the chart renders %v, which the manifests lack", k)
		default:
			if d := cmp.Diff(w, g); d != "" {
				t.Errorf("%v differs (-manifests +chart):\n%s", k, d)
			}
		}
	}
}

func containerArgs(t *testing.T, d map[string]any) []string {
	t.Helper()
	b, err := yaml.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	var dep struct {
		Spec struct {
			Template struct {
				Spec struct {
					Containers []struct {
						Name string   `json:"name"`
						Args []string `json:"args"`
					} `json:"containers"`
				} `json:"spec"`
			} `json:"template"`
		} `json:"spec"`
	}
	if err := yaml.Unmarshal(b, &dep); err != nil {
		t.Fatal(err)
	}
	for _, c := range dep.Spec.Template.Spec.Containers {
		if c.Name == "manager" {
			return c.Args
		}
	}
	t.Fatal("no manager container")
	return nil
}

func str(v any) string { s, _ := v.(string); return s }
