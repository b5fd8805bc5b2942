package doctor

import (
	"strings"
	"testing"

	storagev1 "k8s.io/api/storage/v1"
	"k8s.io/utils/ptr"

	"github.com/irisha/irisha/api/v1alpha1"
)

func TestLonghornRuleDefaults(t *testing.T) {
	fs := LonghornRule(healthy())
	for _, name := range []string{lhNodeDownPolicy, lhSoftAntiAffinity, lhDefaultReplicas, lhOverProvisioning, lhNodeDrainPolicy, lhCurrentVersion} {
		f := find(t, fs, "longhorn."+name, "setting/"+name)
		wantSeverity(t, f, OK)
		if name != lhCurrentVersion && !strings.Contains(f.Summary, "(default)") {
			t.Errorf("%s: summary %q does not say it is the default", name, f.Summary)
		}
	}
}

func TestLonghornRuleAdvises(t *testing.T) {
	for _, c := range []struct {
		name     string
		settings map[string]string
		mutate   func(*Snapshot)
		check    string
		want     Severity
		in       string
	}{
		{"soft anti-affinity", map[string]string{lhSoftAntiAffinity: "true"}, nil, lhSoftAntiAffinity, Warning, "may share a node"},
		{"one default replica (by engine)", map[string]string{lhDefaultReplicas: `{"v1":"1","v2":"1"}`}, nil, lhDefaultReplicas, Warning, "one copy"},
		{"over-provisioning", map[string]string{lhOverProvisioning: "200"}, nil, lhOverProvisioning, Warning, "up to 200%"},
		{"drain always allowed", map[string]string{lhNodeDrainPolicy: "always-allow"}, nil, lhNodeDrainPolicy, Warning, "always-allow"},
		{"old Longhorn", map[string]string{lhCurrentVersion: "v1.3.3"}, nil, lhCurrentVersion, Warning, "no online expansion"},
		{"do-nothing with a mode Off instance", nil, func(s *Snapshot) {
			s.Instances = append(s.Instances, instance("db", "legacy", ptr.To("longhorn"), v1alpha1.FailoverOff))
		}, lhNodeDownPolicy, Warning, "db/legacy"},
		{"delete-deployment-pod", map[string]string{lhNodeDownPolicy: "delete-deployment-pod"}, nil, lhNodeDownPolicy, OK, "without fencing"},
		{"replicas outnumber nodes", nil, func(s *Snapshot) { s.Nodes = s.Nodes[:2] }, "replica-room", Warning, "wants 3 replicas, 2 nodes"},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := healthy()
			for k, v := range c.settings {
				s.Longhorn.Settings[k] = v
			}
			if c.mutate != nil {
				c.mutate(s)
			}
			subject := "setting/" + c.check
			if c.check == "replica-room" {
				subject = "storageclass/longhorn"
			}
			f := find(t, LonghornRule(s), "longhorn."+c.check, subject)
			wantSeverity(t, f, c.want)
			if !strings.Contains(f.Summary, c.in) {
				t.Errorf("summary %q, want %q in it", f.Summary, c.in)
			}
		})
	}
}

func TestLonghornRuleWithoutLonghorn(t *testing.T) {
	s := healthy()
	s.Longhorn = nil
	// The sim: driver.longhorn.io classes, no Longhorn API.
	wantSeverity(t, find(t, LonghornRule(s), "longhorn.settings", ""), Warning)
	s.StorageClasses = []storagev1.StorageClass{class("gp3", "ebs.csi.aws.com", nil, isDefault)}
	if fs := LonghornRule(s); fs != nil {
		t.Errorf("findings on a cluster without Longhorn: %+v", fs)
	}
	s = healthy()
	s.Unreadable["settings.longhorn.io"] = "forbidden"
	wantSeverity(t, find(t, LonghornRule(s), "longhorn.settings", ""), Warning)
}
