package monitoring

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/rulefmt"
	promql "github.com/prometheus/prometheus/promql/parser"
	crmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"
	"sigs.k8s.io/yaml"

	"github.com/irisha/irisha/internal/agent"
	"github.com/irisha/irisha/internal/operator"
)

// root is the repository, from this package's directory.
const root = "../../.."

var parser = promql.NewParser(promql.Options{})

// prometheusSeries are the series Prometheus itself writes for every
// target it scrapes.
var prometheusSeries = map[string][]string{"up": nil}

// targetLabels are the labels Prometheus adds to every scraped series:
// the ServiceMonitor's and the PodMonitor's (config/monitoring) targets'.
// The operator's namespace and instance are its own (honorLabels); the
// agents' instance is relabelled to the IrisInstance's name.
var targetLabels = []string{"job", "instance", "namespace", "pod", "service", "endpoint", "container"}

// grafanaVariables stand in for Grafana's interval macros, which are no
// PromQL until Grafana substitutes them.
var grafanaVariables = strings.NewReplacer("$__rate_interval", "5m", "$__interval", "1m", "$__range", "6h")

// TestAlerts: the PrometheusRule's groups are a valid Prometheus rule file
// (rulefmt, what promtool check rules runs: expressions, durations,
// annotation templates), every expression names only exported metrics and
// labels, and each alert the operator guide promises is there.
func TestAlerts(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(root, "config", "monitoring", "prometheusrule.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var rule struct {
		Kind string `json:"kind"`
		Spec any    `json:"spec"`
	}
	if err := yaml.Unmarshal(b, &rule); err != nil {
		t.Fatal(err)
	}
	if rule.Kind != "PrometheusRule" {
		t.Fatalf("kind %q", rule.Kind)
	}
	groups, err := yaml.Marshal(rule.Spec)
	if err != nil {
		t.Fatal(err)
	}
	parsed, errs := rulefmt.Parse(groups, false, model.LegacyValidation, parser, slog.New(slog.NewTextHandler(io.Discard, nil)))
	for _, err := range errs {
		t.Errorf("rules: %v", err)
	}
	if parsed == nil {
		t.FailNow()
	}
	known := exported(t)
	var alerts []string
	for _, g := range parsed.Groups {
		for _, r := range g.Rules {
			alerts = append(alerts, r.Alert)
			for _, problem := range check(r.Expr, known) {
				t.Errorf("alert %s: %s", r.Alert, problem)
			}
		}
	}
	for _, want := range []string{
		"IrishaInstanceNotReady", "IrishaFailoverSlow", "IrishaFencingStuck",
		"IrishaBackupTooOld", "IrishaFreezeTooLong", "IrishaVolumeAlmostFull",
	} {
		if !slices.Contains(alerts, want) {
			t.Errorf("no alert %s (alerts: %q)", want, alerts)
		}
	}
}

// TestDashboard: every query of the Grafana dashboard (panels and
// variables) parses and names only exported metrics and labels.
func TestDashboard(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(root, "config", "monitoring", "irisha-dashboard.json"))
	if err != nil {
		t.Fatal(err)
	}
	var dash dashboard
	if err := json.Unmarshal(b, &dash); err != nil {
		t.Fatalf("the dashboard is not JSON: %v", err)
	}
	known := exported(t)
	n := 0
	var walk func([]panel)
	walk = func(ps []panel) {
		for _, p := range ps {
			walk(p.Panels)
			for _, target := range p.Targets {
				n++
				for _, problem := range check(grafanaVariables.Replace(target.Expr), known) {
					t.Errorf("panel %q, query %s: %s", p.Title, target.RefID, problem)
				}
			}
		}
	}
	walk(dash.Panels)
	labelValues := regexp.MustCompile(`^label_values\((.+),\s*([a-zA-Z_][a-zA-Z0-9_]*)\)$`)
	for _, v := range dash.Templating.List {
		if v.Type != "query" {
			continue
		}
		n++
		var q struct {
			Query string `json:"query"`
		}
		if err := json.Unmarshal(v.Query, &q); err != nil {
			t.Errorf("variable %s: query %s: %v", v.Name, v.Query, err)
			continue
		}
		m := labelValues.FindStringSubmatch(q.Query)
		if m == nil {
			t.Errorf("variable %s: query %q is not label_values(selector, label)", v.Name, q.Query)
			continue
		}
		for _, problem := range check(m[1], known) {
			t.Errorf("variable %s: %s", v.Name, problem)
		}
		matchers, err := parser.ParseMetricSelector(m[1])
		if err != nil {
			continue // told by check
		}
		for _, mt := range matchers {
			if mt.Name == model.MetricNameLabel && !slices.Contains(known[mt.Value], m[2]) && !slices.Contains(targetLabels, m[2]) {
				t.Errorf("variable %s: %s has no label %s", v.Name, mt.Value, m[2])
			}
		}
	}
	if n < 10 {
		t.Fatalf("only %d queries in the dashboard", n)
	}
}

// TestCheckFindsProblems: the check itself tells an unknown metric, an
// unknown label and a syntax error.
func TestCheckFindsProblems(t *testing.T) {
	known := exported(t)
	for expr, want := range map[string]string{
		`irisha_nope`:                        "irisha_nope is not exported",
		`irisha_fencing_state{phase="x"}`:    "label phase",
		`rate(irisha_failovers_total[5m]`:    "does not parse",
		`irisha_failover_duration_seconds_x`: "is not exported",
	} {
		problems := check(expr, known)
		if !slices.ContainsFunc(problems, func(p string) bool { return strings.Contains(p, want) }) {
			t.Errorf("check(%q) = %q, want a problem naming %q", expr, problems, want)
		}
	}
	if problems := check(`histogram_quantile(0.99, sum by (le) (rate(irisha_failover_duration_seconds_bucket{le="20"}[5m])))`, known); len(problems) > 0 {
		t.Errorf("a histogram's buckets: %q", problems)
	}
}

// TestMetricsDoc: docs/metrics.md lists every irisha metric exported, and
// none that is not.
func TestMetricsDoc(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(root, "docs", "metrics.md"))
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	known := exported(t)
	for name := range known {
		if strings.HasPrefix(name, "irisha_") && !strings.Contains(doc, "`"+name+"`") {
			t.Errorf("docs/metrics.md does not list %s", name)
		}
	}
	for _, m := range regexp.MustCompile("`(irisha_[a-z0-9_]+)`").FindAllStringSubmatch(doc, -1) {
		if _, ok := known[m[1]]; !ok && !hasHistogramBase(m[1], known) {
			t.Errorf("docs/metrics.md lists %s, which nothing exports", m[1])
		}
	}
}

// exported is every metric the operator and the agent register, with its
// labels, and the series Prometheus adds: what a query may name.
func exported(t *testing.T) map[string][]string {
	t.Helper()
	known, err := registered()
	if err != nil {
		t.Fatal(err)
	}
	out := maps.Clone(known)
	for _, extra := range []map[string][]string{prometheusSeries} {
		maps.Copy(out, extra)
	}
	return out
}

// registered reads the registries once: irisha's metrics register only
// once in a process.
var registered = sync.OnceValues(func() (map[string][]string, error) {
	out := map[string][]string{}
	// The operator serves controller-runtime's registry (its own metrics,
	// client-go's, the work queues', leader election's, the Go runtime's)
	// with irisha's registered into it (operator.SetupControllers).
	operator.NewMetrics(crmetrics.Registry)
	// controller-runtime's Registry is a *prometheus.Registry behind an
	// interface that hides Describe.
	opReg, ok := crmetrics.Registry.(prometheus.Collector)
	if !ok {
		return nil, fmt.Errorf("controller-runtime's registry is a %T, which cannot describe its metrics", crmetrics.Registry)
	}
	for _, reg := range []prometheus.Collector{opReg, agent.Registry()} {
		names, err := described(reg)
		if err != nil {
			return nil, err
		}
		maps.Copy(out, names)
	}
	for _, name := range []string{"irisha_failovers_total", "irisha_instance_ready", "irisha_agent_lease_held", "controller_runtime_reconcile_total"} {
		if _, ok := out[name]; !ok {
			return nil, fmt.Errorf("%s is not registered: the registries are not the operator's and the agent's", name)
		}
	}
	return out, nil
})

// desc matches prometheus.Desc.String(), which is the only way client_golang
// tells a descriptor's name and labels.
var desc = regexp.MustCompile(`^Desc\{fqName: "([^"]+)", .*constLabels: \{(.*)\}, variableLabels: \{(.*)\}\}$`)

func described(c prometheus.Collector) (map[string][]string, error) {
	ch := make(chan *prometheus.Desc)
	go func() {
		c.Describe(ch)
		close(ch)
	}()
	out := map[string][]string{}
	var err error
	for d := range ch {
		m := desc.FindStringSubmatch(d.String())
		if m == nil {
			err = fmt.Errorf("cannot read descriptor %s", d)
			continue // drain the channel
		}
		var names []string
		for _, pair := range strings.Split(m[2], ",") {
			if name, _, ok := strings.Cut(pair, "="); ok {
				names = append(names, name)
			}
		}
		for _, l := range strings.Split(m[3], ",") {
			if l = strings.TrimSuffix(strings.TrimPrefix(l, "c("), ")"); l != "" {
				names = append(names, l)
			}
		}
		out[m[1]] = names
	}
	return out, err
}

// check parses expr and returns what is wrong with it: no parse, a metric
// nobody exports, a label matcher on a label the metric does not carry.
func check(expr string, known map[string][]string) []string {
	e, err := parser.ParseExpr(expr)
	if err != nil {
		return []string{fmt.Sprintf("%q does not parse: %v", expr, err)}
	}
	var problems []string
	promql.Inspect(e, func(n promql.Node, _ []promql.Node) error {
		vs, ok := n.(*promql.VectorSelector)
		if !ok {
			return nil
		}
		name := vs.Name
		for _, m := range vs.LabelMatchers {
			if m.Name == model.MetricNameLabel && m.Type == labels.MatchEqual {
				name = m.Value
			}
		}
		allowed, ok := known[name]
		base, suffix := histogramBase(name, known)
		switch {
		case ok:
		case base != "":
			allowed = known[base]
			if suffix == "_bucket" {
				allowed = append(slices.Clone(allowed), "le")
			}
		default:
			problems = append(problems, fmt.Sprintf("%s is not exported by the operator or the agent", name))
			return nil
		}
		for _, m := range vs.LabelMatchers {
			if m.Name != model.MetricNameLabel && !slices.Contains(allowed, m.Name) && !slices.Contains(targetLabels, m.Name) {
				problems = append(problems, fmt.Sprintf("%s has no label %s (it has %q, and the target's %q)", name, m.Name, allowed, targetLabels))
			}
		}
		return nil
	})
	return problems
}

// histogramBase is the histogram (or summary) whose series name is, and
// the suffix that makes it.
func histogramBase(name string, known map[string][]string) (base, suffix string) {
	for _, s := range []string{"_bucket", "_sum", "_count"} {
		if b, ok := strings.CutSuffix(name, s); ok {
			if _, found := known[b]; found {
				return b, s
			}
		}
	}
	return "", ""
}

func hasHistogramBase(name string, known map[string][]string) bool {
	b, _ := histogramBase(name, known)
	return b != ""
}

type dashboard struct {
	Panels     []panel `json:"panels"`
	Templating struct {
		List []struct {
			Name string `json:"name"`
			Type string `json:"type"`
			// An object for query variables, a string for others.
			Query json.RawMessage `json:"query"`
		} `json:"list"`
	} `json:"templating"`
}

type panel struct {
	Title   string  `json:"title"`
	Panels  []panel `json:"panels"`
	Targets []struct {
		RefID string `json:"refId"`
		Expr  string `json:"expr"`
	} `json:"targets"`
}
