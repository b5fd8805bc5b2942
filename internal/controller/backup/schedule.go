package backup

import (
	"fmt"
	"sort"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/irisha/irisha/api/v1alpha1"
)

// cronParser reads six-field cron with seconds, CloudNativePG's format,
// and descriptors (@daily, @every 1h). robfig/cron is what CloudNativePG
// and go-co-op/gocron parse with.
var cronParser = cron.NewParser(cron.Second | cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// ParseSchedule parses spec.schedule.
func ParseSchedule(spec string) (cron.Schedule, error) {
	s, err := cronParser.Parse(spec)
	if err != nil {
		return nil, fmt.Errorf("schedule %q is not six-field cron with seconds (e.g. \"0 0 2 * * *\" for 02:00 daily) nor a descriptor (@daily, @every 6h): %w", spec, err)
	}
	return s, nil
}

// maxMissed bounds the walk over schedule times missed while the operator
// was down; past it, the latest missed time is taken as found so far.
const maxMissed = 100000

// due says which scheduled time, if any, wants a backup now: the latest
// one after last and not after now. Times missed while the operator was
// down are not made up for one by one: however many passed, one backup
// runs. next is the first time after now.
func due(s cron.Schedule, last, now time.Time) (at time.Time, ok bool, next time.Time) {
	t := s.Next(last)
	for i := 0; !t.After(now) && i < maxMissed; i++ {
		at, ok = t, true
		t = s.Next(t)
	}
	return at, ok, t
}

// BackupNameAt is the name of a schedule's backup for scheduled time at:
// the same for every operator that computes it, so a restarted operator
// finds the backup it created instead of creating another.
func BackupNameAt(schedule string, at time.Time) string {
	return fmt.Sprintf("%s-%s", schedule, at.UTC().Format("20060102150405"))
}

// expired picks the backups retention deletes among those a schedule
// created (own; the caller has checked the creator's UID): beyond the
// newest keep Completed ones (and as many Failed ones), and older than
// maxAge. Backups still running are never deleted, nor is the newest
// Completed one, whatever its age: a schedule must never leave an instance
// without a backup because it could not take new ones.
func expired(own []v1alpha1.IrisBackup, r *v1alpha1.RetentionPolicy, now time.Time) []string {
	if r == nil {
		return nil
	}
	sorted := append([]v1alpha1.IrisBackup(nil), own...)
	sort.Slice(sorted, func(i, j int) bool { return newer(&sorted[i], &sorted[j]) })
	var out []string
	completed, failed := 0, 0
	newestKept := false
	for i := range sorted {
		b := &sorted[i]
		if !b.Status.Phase.Ended() || !b.DeletionTimestamp.IsZero() {
			continue
		}
		n := &failed
		if b.Status.Phase == v1alpha1.BackupCompleted {
			n = &completed
			if !newestKept {
				newestKept = true
				*n++
				continue
			}
		}
		*n++
		tooMany := r.Keep != nil && *n > int(*r.Keep)
		tooOld := r.MaxAge != nil && now.Sub(b.CreationTimestamp.Time) > r.MaxAge.Duration
		if tooMany || tooOld {
			out = append(out, b.Name)
		}
	}
	return out
}

func newer(a, b *v1alpha1.IrisBackup) bool {
	if !a.CreationTimestamp.Equal(&b.CreationTimestamp) {
		return b.CreationTimestamp.Before(&a.CreationTimestamp)
	}
	return a.Name > b.Name
}
