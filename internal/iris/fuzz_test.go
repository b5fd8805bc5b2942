package iris

import (
	"errors"
	"strings"
	"testing"
)

// FuzzParseMerge: the parser never panics; what it refuses is a *ParseError
// naming a line of the input; what it accepts renders to text that parses
// back to the same settings and renders identically.
func FuzzParseMerge(f *testing.F) {
	for _, seed := range []string{
		docMerge, docActions, referenceMerge, "", "\n", "x", "[]\n", "[config]\n", "[config]\n=\n",
		"[a]\nk=v\n[b]\nk=v\n", "[a]\nk=v\n[A]\nK=w\n", "[config]\r\nglobals=0\r\n", "[config]\nk= v\n",
		"[Map.USER]\nGlobal_X(\"a b\")=APP\n", "[Namespaces]\n%SYS=IRISSYS\n", "# c\n", "; c\n",
		"[Actions]\nA:B=\"c,d\"\n", "[Actions]\nA:B=\"c\"\"d\"\n", "[Actions]\nA:B=\"c\n", "[Actions]\nA:\n",
		"[Startup]\nShutdownTimeout=120\n", "[Startup]\nShutdownTimeout=119\n",
		"[Startup]\nPasswordHash=FBFE8593AEFA510C27FD184738D6E865A441DE98,u4ocm4qh,10000,SHA512\n",
		"[config]\nk=a\rb\n", "[config\n", "[con fig]\n", "\xff[config]\n",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, text string) {
		m, err := ParseMerge(text)
		if err != nil {
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("error of type %T: %v", err, err)
			}
			if lines := strings.Count(text, "\n") + 1; pe.Line < 1 || pe.Line > lines {
				t.Fatalf("line %d outside 1..%d", pe.Line, lines)
			}
			if strings.ContainsAny(pe.Text, "\n") {
				t.Fatalf("Text %q spans lines", pe.Text)
			}
			return
		}
		out := m.Render()
		again, err := ParseMerge(out)
		if err != nil {
			t.Fatalf("rendered text does not parse: %v\n%q", err, out)
		}
		if again.Render() != out {
			t.Fatalf("render is not stable:\n%q\n%q", out, again.Render())
		}
		for _, s := range m.Sections() {
			for _, kv := range s.Settings {
				if v, ok := again.Get(s.Name, kv.Key); !ok || v != kv.Value {
					t.Fatalf("[%s] %s=%q came back as %q, %v", s.Name, kv.Key, kv.Value, v, ok)
				}
			}
		}
	})
}

// FuzzParseQlist: the parser never panics, and what it returns is the
// instance asked for with a classified status and health taken from the text.
func FuzzParseQlist(f *testing.F) {
	for _, s := range []string{
		qlistRunning, qlistFrozen, qlistDocker, qlistWarn, qlistInhibited, qlistDown, qlistMirror,
		qlistPrimary, qlistCacheIDs, qlistTransition, qlistIncomplete, qlistDown + "\n" + qlistRunning,
		"", "^^^", "IRIS^^^running", "IRIS^^^", "iris^a^b^down, last used x^c^99999^-1^x^HUNG",
		"indeterminate", "IRIS^/usr/irissys^2025.1^indeterminate", "\r\n^\r\n",
	} {
		f.Add(s)
	}
	known := map[Status]bool{StatusRunning: true, StatusDown: true, StatusSignOnInhibited: true, StatusTransition: true, StatusUnknown: true}
	health := map[Health]bool{HealthOK: true, HealthWarn: true, HealthAlert: true, HealthHung: true, HealthNone: true}
	f.Fuzz(func(t *testing.T, out string) {
		inst, err := ParseQlist(out)
		if err != nil {
			return
		}
		if !strings.EqualFold(inst.Name, InstanceName) {
			t.Fatalf("returned instance %q for IRIS", inst.Name)
		}
		if !known[inst.Status] || !health[inst.Health] {
			t.Fatalf("status %q health %q not classified", inst.Status, inst.Health)
		}
		if !strings.Contains(out, inst.StatusText) || !strings.Contains(inst.StatusText, inst.Since) {
			t.Fatalf("status text %q / since %q not from the input", inst.StatusText, inst.Since)
		}
		for _, p := range []int{inst.SuperserverPort, inst.WebPort, inst.JDBCPort} {
			if p < 0 || p > 65535 {
				t.Fatalf("port %d", p)
			}
		}
	})
}

// FuzzSet: whatever Set accepts renders to text that parses back to it.
func FuzzSet(f *testing.F) {
	f.Add("Startup", "ShutdownTimeout", "300")
	f.Add("config", "globals", "0,0,800,0,0,0")
	f.Add("Map.USER", "Global_A(\"x y\")", "APP")
	f.Add("config", "k", "v\u00a0")
	f.Add("Actions", "CreateUser", "Name=x")
	f.Fuzz(func(t *testing.T, section, key, value string) {
		m, err := ParseMerge(docMerge)
		if err != nil {
			t.Fatal(err)
		}
		if m.Set(section, key, value) != nil {
			return
		}
		again, err := ParseMerge(m.Render())
		if err != nil {
			t.Fatalf("Set(%q, %q, %q) rendered text that does not parse: %v", section, key, value, err)
		}
		if v, ok := again.Get(section, key); !ok || v != value {
			t.Fatalf("Set(%q, %q, %q) came back as %q, %v", section, key, value, v, ok)
		}
	})
}
