package chaos

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
)

// TestHTMLEscapesHostileStrings: pod names, setup names and error messages
// come from the cluster; on the page they stay text, in elements and in
// attributes alike.
func TestHTMLEscapesHostileStrings(t *testing.T) {
	out := render(t, HTML, hostile())
	lower := strings.ToLower(out)
	for _, bad := range []string{"<script", "<img", `" onload="`} {
		if strings.Contains(lower, bad) {
			t.Errorf("the page lets %q through", bad)
		}
	}
	for _, want := range []string{
		"&lt;script&gt;alert(&#39;pod&#39;)&lt;/script&gt;",
		`data-setup="irisha&#34; onload=&#34;alert(1)"`,
		"&lt;img src=x onerror=alert(1)&gt;",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("the page lacks the escaped %q", want)
		}
	}
	if opened, closed := strings.Count(out, "<title>"), strings.Count(out, "</title>"); opened != closed {
		t.Errorf("%d <title> but %d </title>: a detail closed an element", opened, closed)
	}
}

// TestHTMLSelfContained: the page is mailed, archived and printed; it must
// need nothing else, and runs no script.
func TestHTMLSelfContained(t *testing.T) {
	out := strings.ToLower(render(t, HTML, fixture()))
	for _, bad := range []string{"<script", "<link", " src=", "http://", "https://", "@import", "<iframe", "<object"} {
		if strings.Contains(out, bad) {
			t.Errorf("the page holds %q", bad)
		}
	}
	for _, u := range regexp.MustCompile(`url\([^)]*\)`).FindAllString(out, -1) {
		if !strings.HasPrefix(u, "url(#") {
			t.Errorf("the page fetches %s", u)
		}
	}
}

// TestHTMLTimelinePerDrill: every drill of every setup has its drawing,
// named by setup and scenario, with a group per mark.
func TestHTMLTimelinePerDrill(t *testing.T) {
	r := fixture()
	out := render(t, HTML, r)
	svgs := regexp.MustCompile(`(?s)<svg class="timeline" data-setup="([^"]*)" data-scenario="([^"]*)".*?</svg>`).FindAllStringSubmatch(out, -1)
	var want, got []string
	for _, s := range r.Setups {
		for _, res := range s.Results {
			want = append(want, s.Name+"/"+string(res.Scenario)+marksKey(res.Marks))
		}
	}
	for _, m := range svgs {
		kinds := regexp.MustCompile(`<g class="mark" data-kind="([^"]*)"`).FindAllStringSubmatch(m[0], -1)
		var marks []Mark
		for _, k := range kinds {
			marks = append(marks, Mark{Kind: MarkKind(k[1])})
		}
		got = append(got, m[1]+"/"+m[2]+marksKey(marks))
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("timelines\n got %v\nwant %v", got, want)
	}
}

// marksKey lists mark kinds in MarkOrder, whatever order they came in.
func marksKey(marks []Mark) string {
	r := Result{Marks: marks}
	var kinds []string
	for _, m := range orderedMarks(&r) {
		kinds = append(kinds, string(m.Kind))
	}
	return "[" + strings.Join(kinds, " ") + "]"
}
