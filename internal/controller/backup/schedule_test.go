package backup

import (
	"fmt"
	"slices"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/irisha/irisha/api/v1alpha1"
)

func TestParseSchedule(t *testing.T) {
	for _, ok := range []string{"0 0 2 * * *", "*/30 * * * * *", "@daily", "@every 6h"} {
		if _, err := ParseSchedule(ok); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
	// Five fields is Kubernetes CronJob's format, not this one: refuse it
	// rather than read minutes as seconds.
	for _, bad := range []string{"0 2 * * *", "", "every day", "61 * * * * *"} {
		if _, err := ParseSchedule(bad); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
}

func TestDueRunsMissedTimesOnce(t *testing.T) {
	s, _ := ParseSchedule("0 * * * * *") // every minute
	last := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	if _, ok, next := due(s, last, last.Add(30*time.Second)); ok || !next.Equal(last.Add(time.Minute)) {
		t.Errorf("before the next time: due %t next %s", ok, next)
	}
	// The operator was down for an hour: one backup, for the latest time.
	now := last.Add(time.Hour + 30*time.Second)
	at, ok, next := due(s, last, now)
	if !ok || !at.Equal(last.Add(time.Hour)) || !next.Equal(last.Add(61*time.Minute)) {
		t.Errorf("after an hour down: due %t at %s next %s", ok, at, next)
	}
	if _, ok, _ := due(s, at, now); ok {
		t.Error("due again for the time just taken")
	}
}

func TestExpired(t *testing.T) {
	base := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	mk := func(i int, p v1alpha1.BackupPhase) v1alpha1.IrisBackup {
		return v1alpha1.IrisBackup{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("b%02d", i), CreationTimestamp: metav1.NewTime(base.Add(time.Duration(i) * time.Hour))},
			Status: v1alpha1.IrisBackupStatus{Phase: p}}
	}
	var own []v1alpha1.IrisBackup
	for i := range 6 {
		own = append(own, mk(i, v1alpha1.BackupCompleted))
	}
	own = append(own, mk(6, v1alpha1.BackupFailed), mk(7, v1alpha1.BackupFailed), mk(8, v1alpha1.BackupFailed), mk(9, v1alpha1.BackupFreezing))
	now := base.Add(10 * time.Hour)

	got := expired(own, &v1alpha1.RetentionPolicy{Keep: ptr.To[int32](3)}, now)
	want := []string{"b02", "b01", "b00"} // three Failed ones are kept too
	if !slices.Equal(got, want) {
		t.Errorf("keep 3: deleted %v, want %v", got, want)
	}
	// Older than 4 h: everything but the running one and the newest
	// Completed (b05, 5 h old).
	got = expired(own, &v1alpha1.RetentionPolicy{MaxAge: &metav1.Duration{Duration: 4 * time.Hour}}, now)
	want = []string{"b04", "b03", "b02", "b01", "b00"}
	if !slices.Equal(got, want) {
		t.Errorf("maxAge 4h: deleted %v, want %v", got, want)
	}
	if got := expired(own, &v1alpha1.RetentionPolicy{MaxAge: &metav1.Duration{Duration: time.Minute}}, base.Add(100*time.Hour)); slices.Contains(got, "b05") || slices.Contains(got, "b09") {
		t.Errorf("maxAge past every backup deleted the newest Completed or a running one: %v", got)
	}
	if got := expired(own, nil, now); got != nil {
		t.Errorf("no retention deleted %v", got)
	}
}
