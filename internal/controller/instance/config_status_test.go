package instance

import (
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/irisha/irisha/internal/iris"
)

func TestConfigCondition(t *testing.T) {
	want := iris.MergeHash([]byte("[config]\ngmheap=65536\n"))
	report := func(hash string, o iris.MergeOutcome, msg string) string {
		return iris.MergeReport{Hash: hash, Outcome: o, Message: msg}.Format()
	}
	for _, tc := range []struct {
		name       string
		annotation string
		status     metav1.ConditionStatus
		reason     string
		inMessage  string
	}{
		{"no report yet", "", metav1.ConditionUnknown, ReasonConfigPending, want},
		{"a report of the previous text", report("0123456789abcdef0123", iris.MergeApplied, ""), metav1.ConditionUnknown, ReasonConfigPending, want},
		{"an unreadable report", "{", metav1.ConditionUnknown, ReasonConfigPending, want},
		{"applied", report(want, iris.MergeApplied, ""), metav1.ConditionTrue, ReasonConfigApplied, want},
		{"restarting", report(want, iris.MergeRestarting, "IRIS restarts to apply [config] gmheap"), metav1.ConditionFalse, ReasonConfigRestarting, "[config] gmheap"},
		{"refused", report(want, iris.MergeRefused, "Configuration merge failed: gmheap=100"), metav1.ConditionFalse, ReasonConfigRefused, "Configuration merge failed: gmheap=100"},
		{"not run", report(want, iris.MergeFailed, "context deadline exceeded"), metav1.ConditionUnknown, ReasonConfigFailed, "deadline"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := configCondition(want, tc.annotation)
			if got.status != tc.status || got.reason != tc.reason || !strings.Contains(got.message, tc.inMessage) {
				t.Errorf("configCondition = %+v, want %s/%s with %q", got, tc.status, tc.reason, tc.inMessage)
			}
		})
	}
}
