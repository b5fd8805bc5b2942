//go:build unix

package chaos

import (
	"bytes"
	"encoding/json"
	"fmt"
	"html"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// probed is what testdata/probe.js reports, in page pixels.
type probed struct {
	Width, Height float64
	Timelines     []probedTimeline
}

type probedTimeline struct {
	Setup, Scenario string
	Box             pixelBox
	Marks           []struct {
		Kind  MarkKind
		Box   pixelBox
		BBox  pixelBox
		Label *pixelBox
	}
	Lane *struct {
		Box        pixelBox
		OK, Failed int
	}
}

type pixelBox struct{ X, Y, W, H float64 }

func (b pixelBox) drawn() bool { return b.W > 0 && b.H > 0 }

// within allows a pixel of rounding between a browser's boxes.
func (b pixelBox) within(o pixelBox) bool {
	return b.X >= o.X-1 && b.Y >= o.Y-1 && b.X+b.W <= o.X+o.W+1 && b.Y+b.H <= o.Y+o.H+1
}

func (b pixelBox) overlaps(o pixelBox) bool {
	return b.X < o.X+o.W && o.X < b.X+b.W && b.Y < o.Y+o.H && o.Y < b.Y+b.H
}

// pageWidth is the width the report is laid out for; the drawings must be
// readable there.
const pageWidth = 1200

// TestHTMLTimelinesDrawnInChromium renders the fixture's page in a real
// browser and checks what the markup alone cannot show: every drill of
// every setup has a timeline with a size, every mark is drawn inside its
// drawing and labelled without overlapping another label once real fonts
// lay the text out, the write lane is there, and the screenshot of each
// drawing is not blank.
//
// It runs on the fixture (every corner case) and on the report of a real
// sandbox run (testdata/sandbox-report.json: what the drills record).
func TestHTMLTimelinesDrawnInChromium(t *testing.T) {
	bin := findChromium(t)
	recorded := &Report{}
	data, err := os.ReadFile(filepath.Join("testdata", "sandbox-report.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, recorded); err != nil {
		t.Fatal(err)
	}
	for name, r := range map[string]*Report{"fixture": fixture(), "sandbox run": recorded} {
		t.Run(name, func(t *testing.T) {
			h := &headless{bin: bin, dir: t.TempDir()}
			var page bytes.Buffer
			if err := HTML(&page, r); err != nil {
				t.Fatal(err)
			}
			reportPath := filepath.Join(h.dir, "report.html")
			probePath := filepath.Join(h.dir, "probe.html")
			writeFile(t, reportPath, page.Bytes())
			writeFile(t, probePath, withProbe(t, page.Bytes()))

			dom := h.run(t, fmt.Sprintf("--window-size=%d,900", pageWidth), "--dump-dom", "file://"+probePath)
			p := readProbe(t, dom)
			checkTimelines(t, r, p)

			// The probe's <pre> comes after everything, so the report
			// without it lays out the same above it.
			shot := filepath.Join(h.dir, "report.png")
			h.run(t, fmt.Sprintf("--window-size=%d,%d", pageWidth, int(p.Height)), "--screenshot="+shot, "file://"+reportPath)
			checkScreenshot(t, shot, p)
		})
	}
}

func writeFile(t *testing.T, path string, b []byte) {
	t.Helper()
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// withProbe is the page with testdata/probe.js run at the end of its body.
func withProbe(t *testing.T, page []byte) []byte {
	t.Helper()
	js, err := os.ReadFile(filepath.Join("testdata", "probe.js"))
	if err != nil {
		t.Fatal(err)
	}
	at := bytes.LastIndex(page, []byte("</body>"))
	if at < 0 {
		t.Fatal("the page has no </body>")
	}
	var b bytes.Buffer
	b.Write(page[:at])
	b.WriteString("<script>\n")
	b.Write(js)
	b.WriteString("</script>\n")
	b.Write(page[at:])
	return b.Bytes()
}

// probeElement is the probe's output; the JSON's opening brace tells it
// from the probe's own source, which the dump holds too.
var probeElement = regexp.MustCompile(`(?s)<pre id="probe">(\{.*?\})</pre>`)

func readProbe(t *testing.T, dom []byte) probed {
	t.Helper()
	m := probeElement.FindSubmatch(dom)
	if m == nil {
		t.Fatalf("the dumped DOM has no probe (did the script run?):\n%s", tail(dom, 2000))
	}
	var p probed
	if err := json.Unmarshal([]byte(html.UnescapeString(string(m[1]))), &p); err != nil {
		t.Fatalf("reading the probe: %v\n%s", err, m[1])
	}
	return p
}

func checkTimelines(t *testing.T, r *Report, p probed) {
	t.Helper()
	drawn := map[string]probedTimeline{}
	for _, tl := range p.Timelines {
		drawn[tl.Setup+"/"+tl.Scenario] = tl
	}
	for _, s := range r.Setups {
		for _, res := range s.Results {
			key := s.Name + "/" + string(res.Scenario)
			tl, ok := drawn[key]
			switch {
			case !ok:
				t.Errorf("%s: no timeline drawn", key)
				continue
			case !tl.Box.drawn():
				t.Errorf("%s: the timeline is %.0f×%.0f px", key, tl.Box.W, tl.Box.H)
				continue
			case tl.Box.W < pageWidth*0.8:
				t.Errorf("%s: the timeline is %.0f px wide on a %d px page", key, tl.Box.W, pageWidth)
			}
			checkMarks(t, key, res, tl)
			switch {
			case tl.Lane == nil:
				t.Errorf("%s: no write lane", key)
			case !tl.Lane.Box.drawn() || !tl.Lane.Box.within(tl.Box):
				t.Errorf("%s: the write lane's box %+v, the timeline's %+v", key, tl.Lane.Box, tl.Box)
			default:
				// The axis shows a little of the time before the fault
				// (timeRange): writes before it are not drawn.
				start, end := timeRange(&res)
				var shown []Write
				for _, w := range res.Writes {
					if w.Seconds >= start && w.Seconds <= end {
						shown = append(shown, w)
					}
				}
				if ok, failed := count(shown); tl.Lane.OK != ok || tl.Lane.Failed != failed {
					t.Errorf("%s: %d acknowledged and %d failed writes drawn, want %d and %d",
						key, tl.Lane.OK, tl.Lane.Failed, ok, failed)
				}
			}
		}
	}
}

func checkMarks(t *testing.T, key string, res Result, tl probedTimeline) {
	t.Helper()
	want := map[MarkKind]int{}
	for _, m := range res.Marks {
		want[m.Kind]++
	}
	got := map[MarkKind]int{}
	for i, m := range tl.Marks {
		got[m.Kind]++
		switch {
		case !m.Box.drawn() || !m.BBox.drawn():
			t.Errorf("%s: mark %s is not drawn (%+v)", key, m.Kind, m.Box)
		case !m.Box.within(tl.Box):
			t.Errorf("%s: mark %s at %+v is outside its timeline %+v", key, m.Kind, m.Box, tl.Box)
		case m.Label == nil || !m.Label.drawn():
			t.Errorf("%s: mark %s has no label", key, m.Kind)
		}
		for _, o := range tl.Marks[i+1:] {
			if m.Label != nil && o.Label != nil && m.Label.overlaps(*o.Label) {
				t.Errorf("%s: the labels of %s (%+v) and %s (%+v) overlap", key, m.Kind, *m.Label, o.Kind, *o.Label)
			}
		}
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("%s: marks drawn %v, in the data %v", key, got, want)
	}
}

// checkScreenshot looks at each drawing's pixels: some must be ink, and the
// write lane must show its ticks in the colours and halves it promises.
func checkScreenshot(t *testing.T, path string, p probed) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("reading the screenshot: %v", err)
	}
	for _, tl := range p.Timelines {
		key := tl.Setup + "/" + tl.Scenario
		if ink := float64(pixels(img, tl.Box, isInk)) / (tl.Box.W * tl.Box.H); ink < 0.02 {
			t.Errorf("%s: the drawing is blank in the screenshot (%.1f%% ink)", key, 100*ink)
		}
		if tl.Lane == nil {
			continue
		}
		upper, lower := tl.Lane.Box, tl.Lane.Box
		upper.H /= 2
		lower.H /= 2
		lower.Y += lower.H
		// Half a tick's area each at least, so that the one green line
		// (first write) or red one (fault) crossing the lane cannot pass
		// for the writes.
		if got, want := pixels(img, upper, isGreen), tl.Lane.OK*writeTickPixels(upper)/2; got < want {
			t.Errorf("%s: %d green pixels in the lane's upper half for %d acknowledged writes, want %d or more",
				key, got, tl.Lane.OK, want)
		}
		if got, want := pixels(img, lower, isRed), tl.Lane.Failed*writeTickPixels(lower)/2; got < want {
			t.Errorf("%s: %d red pixels in the lane's lower half for %d failed writes, want %d or more",
				key, got, tl.Lane.Failed, want)
		}
	}
	if t.Failed() {
		t.Logf("screenshot kept at %s", keep(t, path))
	}
}

// writeTickPixels is about one write tick's area in a half lane: the
// template's 1.6 px width rounded down, the half's height less its gap.
func writeTickPixels(half pixelBox) int { return int(half.H) - 1 }

// pixels counts a box's pixels that pass is.
func pixels(img image.Image, b pixelBox, is func(r, g, b uint32) bool) int {
	rect := image.Rect(int(b.X), int(b.Y), int(b.X+b.W), int(b.Y+b.H)).Intersect(img.Bounds())
	n := 0
	for y := rect.Min.Y; y < rect.Max.Y; y++ {
		for x := rect.Min.X; x < rect.Max.X; x++ {
			r, g, b, _ := img.At(x, y).RGBA()
			if is(r>>8, g>>8, b>>8) {
				n++
			}
		}
	}
	return n
}

func isInk(r, g, b uint32) bool   { return r < 200 || g < 200 || b < 200 }
func isGreen(r, g, b uint32) bool { return g > r+40 && g > b+20 }
func isRed(r, g, b uint32) bool   { return r > g+60 && r > b+60 }

// keep copies a failing test's screenshot out of its temporary directory,
// which is removed when the test ends.
func keep(t *testing.T, path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return path
	}
	out := filepath.Join(os.TempDir(), strings.ReplaceAll(t.Name(), "/", "_")+".png")
	if err := os.WriteFile(out, b, 0o644); err != nil {
		return path
	}
	return out
}
