package chaos

import (
	"fmt"
	"math"
	"sort"
	"strings"
)

// timeline is one drill's SVG drawing, laid out here rather than in the
// page: the page carries no script, and a layout computed in Go can be
// tested. The template only copies these numbers (SVG user units, which are
// CSS pixels when the page is 1200 px wide).
type timeline struct {
	Width, Height       float64
	PlotLeft, PlotRight float64
	PlotWidth           float64
	AxisY, TickLabelY   float64
	TickEnd             float64
	PlotTop             float64
	LaneLabelX          float64
	Ticks               []axisTick
	Marks               []markGlyph
	Lane                writeLane
	Bar                 rtoBar
}

type axisTick struct {
	X     float64
	Label string
}

// markGlyph is a mark's vertical line and its label, which sits in one of
// several rows above the plot so that marks a fraction of a second apart
// stay readable.
type markGlyph struct {
	Kind           MarkKind
	X              float64
	LineTop        float64
	LabelX, LabelY float64
	Anchor         string
	Label, Detail  string
}

// writeLane holds a tick per write attempt: acknowledged ones in the lane's
// upper half, failed ones in its lower half, so the two differ in a
// black-and-white print too, not only in colour.
type writeLane struct {
	Y, H, LabelY float64
	Ticks        []writeTick
}

type writeTick struct {
	X, Y, H float64
	OK      bool
}

// rtoBar spans the fault to the first acknowledged write, or, when none
// came, the whole window, hatched.
type rtoBar struct {
	Drawn, Recovered bool
	X, Y, W, H       float64
	LabelX, LabelY   float64
	LabelAnchor      string
	LabelInside      bool
	Label            string
	LaneLabelY       float64
}

// The drawing's fixed dimensions, in SVG units.
const (
	tlWidth      = 1160.0
	tlLeft       = 70.0 // room for the lane names
	tlRight      = 24.0
	labelRow     = 16.0 // height of one row of mark labels
	labelFirst   = 14.0 // baseline of the first row
	labelGap     = 8.0  // least room between two labels in a row
	laneHeight   = 22.0
	barHeight    = 16.0
	laneSpacing  = 8.0
	tickLabelGap = 15.0
	// charWidth over-estimates a 12 px sans-serif character, so labels
	// judged apart are apart once drawn, whatever font the reader has.
	charWidth = 7.6
)

func newTimeline(r *Result) timeline {
	start, end := timeRange(r)
	t := timeline{Width: tlWidth, PlotLeft: tlLeft, PlotRight: tlWidth - tlRight, LaneLabelX: tlLeft - 8}
	t.PlotWidth = t.PlotRight - t.PlotLeft
	x := func(s float64) float64 {
		s = math.Max(start, math.Min(end, s))
		return round1(t.PlotLeft + (s-start)/(end-start)*(t.PlotRight-t.PlotLeft))
	}
	marks, rows := layoutMarks(orderedMarks(r), x, t.PlotLeft, t.Width)
	t.PlotTop = labelFirst + float64(rows-1)*labelRow + 10
	t.Lane = writeLane{Y: t.PlotTop, H: laneHeight, LabelY: t.PlotTop + laneHeight/2 + 4}
	barY := t.PlotTop + laneHeight + laneSpacing
	t.AxisY = barY + barHeight + laneSpacing
	t.TickEnd = t.AxisY + 4
	t.TickLabelY = t.AxisY + tickLabelGap
	t.Height = t.TickLabelY + 8
	for i := range marks {
		marks[i].LineTop = marks[i].LabelY + 4
	}
	t.Marks = marks
	t.Ticks = axisTicks(start, end, x)
	t.Lane.Ticks = writeTicks(r.Writes, start, end, x, t.Lane)
	t.Bar = newRTOBar(r, x, barY, t.PlotRight, end)
	return t
}

// timeRange is the axis: from a little before the fault (the first write,
// and at least 2 s) to the end of the recorded window.
func timeRange(r *Result) (start, end float64) {
	end = r.WindowSeconds
	for _, m := range r.Marks {
		end = math.Max(end, m.Seconds)
	}
	if r.RTOSeconds != nil {
		end = math.Max(end, *r.RTOSeconds)
	}
	for _, w := range r.Writes {
		end = math.Max(end, w.Seconds)
	}
	if end <= 0 {
		end = 10 // a drill that did not run: an empty axis still reads as one
	}
	start = -2
	for _, w := range r.Writes {
		start = math.Min(start, w.Seconds)
	}
	// Before the fault the lane only shows the writer was healthy; a fifth
	// of the axis is enough, and the recovery keeps the room.
	start = math.Max(start, math.Min(-2, -end/4))
	return start, end
}

// layoutMarks places each mark's label in the first row where it neither
// overlaps another label nor is crossed by another mark's line, and where
// its own line crosses no label below it; it returns the rows used.
func layoutMarks(marks []Mark, x func(float64) float64, left, width float64) ([]markGlyph, int) {
	sorted := append([]Mark(nil), marks...)
	sort.SliceStable(sorted, func(i, j int) bool { return sorted[i].Seconds < sorted[j].Seconds })
	type box struct {
		x, lo, hi float64
		row       int
	}
	var placed []box
	fits := func(b box) bool {
		for _, p := range placed {
			switch {
			case p.row == b.row && b.lo < p.hi+labelGap && p.lo < b.hi+labelGap:
				return false
			case p.row < b.row && p.x > b.lo-2 && p.x < b.hi+2: // p's line runs down through b's label
				return false
			case p.row > b.row && b.x > p.lo-2 && b.x < p.hi+2: // b's line runs down through p's label
				return false
			}
		}
		return true
	}
	var glyphs []markGlyph
	rows := 1
	for _, m := range sorted {
		px := x(m.Seconds)
		label := fmt.Sprintf("%s %s", m.Kind, strings.TrimPrefix(markSecondsText(m.Seconds), "+"))
		w := float64(len([]rune(label))) * charWidth
		g := markGlyph{Kind: m.Kind, X: px, Label: label, Detail: m.Detail, LabelX: px + 4, Anchor: "start"}
		b := box{x: px, lo: px + 4, hi: px + 4 + w}
		if b.hi > width-2 { // no room to the right: the label ends at its line
			g.LabelX, g.Anchor = px-4, "end"
			b.lo, b.hi = math.Max(left, px-4-w), px-4
		}
		// A new row below the others when no row has room; past the last
		// row only lines from above can cross the label, and no row can
		// do better.
		b.row = rows
		for row := 0; row < rows; row++ {
			if try := (box{b.x, b.lo, b.hi, row}); fits(try) {
				b.row = row
				break
			}
		}
		placed = append(placed, b)
		rows = max(rows, b.row+1)
		g.LabelY = labelFirst + float64(b.row)*labelRow
		glyphs = append(glyphs, g)
	}
	return glyphs, rows
}

// axisTicks are round seconds, about ten of them, always including 0 (the
// fault).
func axisTicks(start, end float64, x func(float64) float64) []axisTick {
	step := niceStep((end - start) / 10)
	var ticks []axisTick
	for i := math.Ceil(start/step - 1e-9); i*step <= end+1e-9; i++ {
		s := i * step
		label := fmt.Sprintf("%.0f s", s)
		if step < 1 {
			label = fmt.Sprintf("%.1f s", s)
		}
		ticks = append(ticks, axisTick{X: x(s), Label: strings.Replace(label, "-0 s", "0 s", 1)})
	}
	return ticks
}

// niceStep is the least of 1, 2 or 5 times a power of ten that is at least
// raw.
func niceStep(raw float64) float64 {
	if raw <= 0 {
		return 1
	}
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	for _, m := range []float64{1, 2, 5} {
		if m*mag >= raw-1e-12 {
			return m * mag
		}
	}
	return 10 * mag
}

func writeTicks(writes []Write, start, end float64, x func(float64) float64, lane writeLane) []writeTick {
	half := lane.H / 2
	var ticks []writeTick
	for _, w := range writes {
		if w.Seconds < start || w.Seconds > end {
			continue // before the axis starts: the lane's earliest part is cut
		}
		t := writeTick{X: x(w.Seconds), Y: lane.Y, H: half - 1, OK: w.OK}
		if !w.OK {
			t.Y = lane.Y + half + 1
		}
		ticks = append(ticks, t)
	}
	return ticks
}

func newRTOBar(r *Result, x func(float64) float64, y, right, end float64) rtoBar {
	b := rtoBar{Y: y, H: barHeight, LabelY: y + barHeight - 4, LaneLabelY: y + barHeight - 4}
	x0 := x(0)
	switch {
	case r.RTOSeconds != nil:
		b.Drawn, b.Recovered = true, true
		b.X, b.W = x0, math.Max(1, x(*r.RTOSeconds)-x0)
		b.Label = "RTO " + rtoText(r)
		b.LabelX, b.LabelAnchor = b.X+b.W+6, "start"
		if b.LabelX+float64(len(b.Label))*charWidth > right {
			b.LabelX, b.LabelAnchor, b.LabelInside = b.X+b.W-6, "end", true
		}
	case faulted(r):
		b.Drawn = true
		b.X, b.W = x0, math.Max(1, x(end)-x0)
		b.Label = rtoText(r)
		b.LabelX, b.LabelAnchor = b.X+6, "start"
	default:
		b.Label = rtoText(r)
		b.LabelX, b.LabelAnchor = x0, "start"
	}
	b.X, b.W, b.LabelX = round1(b.X), round1(b.W), round1(b.LabelX)
	return b
}

func round1(v float64) float64 { return math.Round(v*10) / 10 }
