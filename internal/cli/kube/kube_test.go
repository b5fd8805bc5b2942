package kube

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/irisha/irisha/api/v1alpha1"
)

func TestElapsed(t *testing.T) {
	for d, want := range map[time.Duration]string{
		-time.Second:                          "0.0s",
		0:                                     "0.0s",
		420 * time.Millisecond:                "0.4s",
		59*time.Second + 940*time.Millisecond: "59.9s",
		time.Minute:                           "1m00s",
		65*time.Second + 600*time.Millisecond: "1m06s",
		2*time.Hour + 3*time.Minute + 4*time.Second: "2h03m04s",
	} {
		if got := Elapsed(d); got != want {
			t.Errorf("Elapsed(%s) = %s, want %s", d, got, want)
		}
	}
}

func TestOutputFlag(t *testing.T) {
	for _, tc := range []struct {
		arg, want, err string
	}{
		{"", "text", ""},
		{"-ojson", "json", ""},
		{"-o=yaml", "yaml", ""},
		{"--output=text", "text", ""},
		{"-owide", "", "kubectl format irisha does not have"},
		{"-oxml", "", `unknown format "xml": use text, json or yaml`},
	} {
		fs := pflag.NewFlagSet("t", pflag.ContinueOnError)
		var o Output
		AddOutputFlag(fs, &o)
		var args []string
		if tc.arg != "" {
			args = []string{tc.arg}
		}
		err := fs.Parse(args)
		switch {
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("%s: error %v, want %q", tc.arg, err, tc.err)
		case tc.err == "" && (err != nil || string(o) != tc.want):
			t.Errorf("%s: %q, %v; want %q", tc.arg, o, err, tc.want)
		}
	}
}

func TestPrintAddsKindDropsManagedFields(t *testing.T) {
	s, err := Scheme()
	if err != nil {
		t.Fatal(err)
	}
	b := &v1alpha1.IrisBackup{ObjectMeta: metav1.ObjectMeta{Name: "b", ManagedFields: []metav1.ManagedFieldsEntry{{Manager: "x"}}}}
	list := &v1alpha1.IrisBackupList{Items: []v1alpha1.IrisBackup{*b}}
	var out bytes.Buffer
	if err := Print(&out, YAML, s, list); err != nil {
		t.Fatal(err)
	}
	got := out.String()
	for _, want := range []string{"kind: IrisBackupList", "apiVersion: irisha.dev/v1alpha1", "- apiVersion: irisha.dev/v1alpha1\n  kind: IrisBackup"} {
		if !strings.Contains(got, want) {
			t.Errorf("missing %q in:\n%s", want, got)
		}
	}
	if strings.Contains(got, "managedFields") {
		t.Errorf("managedFields printed:\n%s", got)
	}
	if b.Kind != "" || len(b.ManagedFields) != 1 || list.Kind != "" {
		t.Error("Print changed the objects it printed")
	}
	out.Reset()
	if err := Print(&out, JSON, s, b); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(out.String(), "{\n    \"kind\": \"IrisBackup\",\n    \"apiVersion\": \"irisha.dev/v1alpha1\"") {
		t.Errorf("JSON:\n%s", out.String())
	}
}

// TestFlagsFollowKubectl: --context picks the context, whose namespace is
// the default; -n wins over it.
func TestFlagsFollowKubectl(t *testing.T) {
	kubeconfig := filepath.Join(t.TempDir(), "config")
	err := os.WriteFile(kubeconfig, []byte(`apiVersion: v1
kind: Config
clusters:
- name: a
  cluster: {server: "https://a.example:6443"}
- name: b
  cluster: {server: "https://b.example:6443"}
users:
- name: u
  user: {token: t}
contexts:
- name: a
  context: {cluster: a, user: u}
- name: b
  context: {cluster: b, user: u, namespace: prod}
current-context: a
`), 0o600)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		flags  Flags
		ns     string
		server string
	}{
		{Flags{Kubeconfig: kubeconfig}, "default", "https://a.example:6443"},
		{Flags{Kubeconfig: kubeconfig, Context: "b"}, "prod", "https://b.example:6443"},
		{Flags{Kubeconfig: kubeconfig, Context: "b", Namespace: "test"}, "test", "https://b.example:6443"},
	} {
		ns, err := tc.flags.ResolveNamespace()
		if err != nil || ns != tc.ns {
			t.Errorf("%+v: namespace %q, %v; want %q", tc.flags, ns, err, tc.ns)
		}
		cfg, err := tc.flags.clientConfig().ClientConfig()
		if err != nil || cfg.Host != tc.server {
			t.Errorf("%+v: server %v, %v; want %s", tc.flags, cfg, err, tc.server)
		}
	}
	if _, err := (&Flags{Kubeconfig: kubeconfig, Context: "nope"}).Client(); err == nil || !strings.Contains(err.Error(), "--context") {
		t.Errorf("an unknown context: %v", err)
	}
}
