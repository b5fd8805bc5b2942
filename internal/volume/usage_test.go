package volume

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestFormatParse(t *testing.T) {
	st := Stats{UsedBytes: 850, CapacityBytes: 1000, MeasuredAt: time.Unix(1764590400, 0)}
	got, err := Parse(Format(st))
	if err != nil || got != st {
		t.Errorf("round trip: %+v, %v", got, err)
	}
	for _, bad := range []string{"", "1/2", "a/2/3", "1/0/3", "-1/2/3", "1/2/3/4"} {
		if _, err := Parse(bad); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
}

func TestMeasure(t *testing.T) {
	now := time.Now()
	st, err := Measure(t.TempDir(), "", now)
	if err != nil || st.CapacityBytes <= 0 || st.UsedBytes < 0 || st.UsedBytes > st.CapacityBytes || !st.MeasuredAt.Equal(now) {
		t.Errorf("statfs: %+v, %v", st, err)
	}
	file := filepath.Join(t.TempDir(), "v.stats")
	if err := os.WriteFile(file, []byte(`{"capacityBytes":1000,"usedBytes":900}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if st, err := Measure("/nonexistent", file, now); err != nil || st.UsedBytes != 900 || st.CapacityBytes != 1000 || st.Ratio() != 0.9 {
		t.Errorf("stats file: %+v, %v", st, err)
	}
	if _, err := Measure("/nonexistent", "", now); err == nil {
		t.Error("statfs of a missing path")
	}
}
