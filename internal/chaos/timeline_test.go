package chaos

import (
	"testing"
)

// labelSpan is a label's horizontal extent as layoutMarks estimates it.
func labelSpan(g markGlyph) (lo, hi float64) {
	w := float64(len([]rune(g.Label))) * charWidth
	if g.Anchor == "end" {
		return g.LabelX - w, g.LabelX
	}
	return g.LabelX, g.LabelX + w
}

// TestTimelineLabelsDoNotCollide: node-kill's marks fall within 1.1 s of
// one another on a 120 s axis, a few pixels apart; their labels go to
// separate rows, and no line runs through another mark's label.
func TestTimelineLabelsDoNotCollide(t *testing.T) {
	for _, s := range fixture().Setups {
		for _, r := range s.Results {
			t.Run(s.Name+"/"+string(r.Scenario), func(t *testing.T) {
				tl := newTimeline(&r)
				for i, a := range tl.Marks {
					alo, ahi := labelSpan(a)
					if alo < 0 || ahi > tl.Width {
						t.Errorf("%s's label [%.0f, %.0f] leaves the drawing", a.Kind, alo, ahi)
					}
					for _, b := range tl.Marks[i+1:] {
						blo, bhi := labelSpan(b)
						if a.LabelY == b.LabelY && alo < bhi && blo < ahi {
							t.Errorf("%s and %s labels overlap in one row", a.Kind, b.Kind)
						}
						if b.LabelY > a.LabelY && a.X > blo && a.X < bhi {
							t.Errorf("%s's line runs through %s's label", a.Kind, b.Kind)
						}
						if a.LabelY > b.LabelY && b.X > alo && b.X < ahi {
							t.Errorf("%s's line runs through %s's label", b.Kind, a.Kind)
						}
					}
					if a.LineTop <= a.LabelY || a.LineTop >= tl.AxisY {
						t.Errorf("%s's line runs from %.0f to the axis at %.0f", a.Kind, a.LineTop, tl.AxisY)
					}
				}
			})
		}
	}
	nodeKill := fixture().Setups[0].Results[1]
	rows := map[float64]bool{}
	for _, g := range newTimeline(&nodeKill).Marks {
		rows[g.LabelY] = true
	}
	if len(rows) < 4 {
		t.Errorf("node-kill's six close marks use %d label rows", len(rows))
	}
}

func TestTimelineAxis(t *testing.T) {
	r := fixture().Setups[0].Results[0] // writes from -5 s, a 60 s window
	start, end := timeRange(&r)
	if start != -5 || end != 60 {
		t.Errorf("axis from %v to %v, want -5 to 60", start, end)
	}
	tl := newTimeline(&r)
	labels := map[string]float64{}
	for _, tick := range tl.Ticks {
		labels[tick.Label] = tick.X
	}
	if _, ok := labels["0 s"]; !ok {
		t.Errorf("no tick at the fault: %v", labels)
	}
	if labels["60 s"] != tl.PlotRight {
		t.Errorf("the window's end is at %v, the plot's at %v", labels["60 s"], tl.PlotRight)
	}
	if len(tl.Lane.Ticks) != len(r.Writes) {
		t.Errorf("%d write ticks for %d writes", len(tl.Lane.Ticks), len(r.Writes))
	}
	for _, w := range tl.Lane.Ticks {
		if upper := w.Y < tl.Lane.Y+tl.Lane.H/2; upper != w.OK {
			t.Errorf("a write (ok=%v) drawn in the wrong half of the lane", w.OK)
		}
	}

	// A writer started long before the fault gets at most a fifth of the
	// axis; one started just before it still shows 2 s of calm.
	r.Writes = append([]Write{{Seconds: -300, OK: true}}, r.Writes...)
	if start, _ := timeRange(&r); start != -15 {
		t.Errorf("a writer from -300 s: axis starts at %v, want -15", start)
	}
	r.Writes = []Write{{Seconds: -0.5, OK: true}}
	if start, _ := timeRange(&r); start != -2 {
		t.Errorf("a writer from -0.5 s: axis starts at %v, want -2", start)
	}
}

func TestTimelineRTOBar(t *testing.T) {
	irisStop := fixture().Setups[0].Results[0]
	notRecovered := fixture().Setups[1].Results[1]
	neverRan := Result{Scenario: BackupRestore, Error: "no VolumeSnapshotClass"}
	for _, tc := range []struct {
		name                    string
		r                       Result
		drawn, recovered, toEnd bool
		label                   string
	}{
		{"recovered", irisStop, true, true, false, "RTO 13.4 s"},
		{"not recovered", notRecovered, true, false, true, "did not recover within 120 s"},
		{"never ran", neverRan, false, false, false, "did not run"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tl := newTimeline(&tc.r)
			b := tl.Bar
			if b.Drawn != tc.drawn || b.Recovered != tc.recovered || b.Label != tc.label {
				t.Errorf("bar %+v", b)
			}
			if toEnd := b.X+b.W >= tl.PlotRight-0.1; b.Drawn && toEnd != tc.toEnd {
				t.Errorf("bar ends at %v, plot at %v", b.X+b.W, tl.PlotRight)
			}
		})
	}
}
