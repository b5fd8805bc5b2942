package iris

import (
	"errors"
	"strings"
	"testing"
)

// docMerge is the example merge file of the InterSystems documentation.
const docMerge = `[Startup]
SystemMode=TEST
PasswordHash=FBFE8593AEFA510C27FD184738D6E865A441DE98,u4ocm4qh
[config]
bbsiz=-1
globals=0,0,900,0,0,0
routines=64
gmheap=256000
jrnbufs=96
locksiz=1179648
[SQL]
DefaultSchema=user
TimePrecision=6
[SqlSysDatatypes]
TIMESTAMP=%Library.PosixTime
`

const docActions = `[Actions]
CreateDatabase:Name=APPA,Directory=/database-path/APPA
ModifyNamespace:Name=APPA,Globals=APPA,Interop=1
CreateMapGlobal:Name="global-name(1):(101)",Namespace=APPB,Database=APPA
CreateUser:Name=SQLAdmin,PasswordHash="<hash>,<salt>,10000,SHA512",Roles="%SQL,%DB_USER"
ModifyService:Name=%Service_ComPort,AutheEnabled=$$$AuthePassword+$$$AutheUnauthenticated
`

func TestParseMergeAcceptsTheDocumentedExamples(t *testing.T) {
	for name, text := range map[string]string{"settings": docMerge, "actions": docActions, "empty": "", "reference": "[config]\nglobals=0,0,800,0,0,0\ngmheap=256000\n"} {
		m, err := ParseMerge(text)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		again, err := ParseMerge(m.Render())
		if err != nil || again.Render() != m.Render() {
			t.Errorf("%s: rendering does not round-trip: %v\n%s", name, err, m.Render())
		}
	}
	m, _ := ParseMerge(docMerge)
	if v, ok := m.Get("CONFIG", "GLOBALS"); !ok || v != "0,0,900,0,0,0" {
		t.Errorf("case-insensitive Get = %q, %v", v, ok)
	}
}

func TestParseMergeNamesTheBadLine(t *testing.T) {
	for _, tc := range []struct {
		name, text string
		line       int
		reason     string
	}{
		{"setting before any section", "globals=0,0,800\n", 1, "before any"},
		{"missing equals", "[config]\nglobals 0,0,800\n", 2, "key=value"},
		{"empty key", "[config]\n=5\n", 2, "key=value"},
		{"unclosed header", "[config\n", 1, "header"},
		{"bad section name", "[con fig]\n", 1, "section name"},
		{"comment", "[config]\n# bigger cache\nglobals=0,0,800\n", 2, "comment"},
		{"duplicate key", "[config]\nglobals=1\nGLOBALS=2\n", 3, "again"},
		{"duplicate across repeated section", "[config]\nglobals=1\n[SQL]\nx=1\n[config]\nglobals=2\n", 6, "again"},
		{"action without verb", "[Actions]\nName=APPA\n", 2, "action"},
		{"action with unquoted comma in value", "[Actions]\nCreateUser:Name=a,Roles=%SQL,%DB_USER\n", 2, "Name=Value"},
		{"action with unclosed quote", "[Actions]\nCreateUser:Name=\"a\n", 2, "quote"},
		{"CRLF keeps line numbers", "[config]\r\nok=1\r\nbroken\r\n", 3, "key=value"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseMerge(tc.text)
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("err = %v, want a *ParseError", err)
			}
			if pe.Line != tc.line || !strings.Contains(pe.Error(), tc.reason) {
				t.Errorf("got %q (line %d), want line %d mentioning %q", pe.Error(), pe.Line, tc.line, tc.reason)
			}
		})
	}
}

func TestSet(t *testing.T) {
	m, err := ParseMerge("[startup]\nshutdowntimeout=100\n[config]\nglobals=1\n")
	if err != nil {
		t.Fatal(err)
	}
	m.Set("Startup", "ShutdownTimeout", "300")
	m.Set("Startup", "PasswordHash", "abc,def")
	m.Set("Journal", "FreezeOnError", "1")
	want := "[startup]\nshutdowntimeout=300\nPasswordHash=abc,def\n[config]\nglobals=1\n[Journal]\nFreezeOnError=1\n"
	if got := m.Render(); got != want {
		t.Errorf("Render =\n%s\nwant\n%s", got, want)
	}
}

func TestValidatePasswordHash(t *testing.T) {
	for _, ok := range []string{
		"FBFE8593AEFA510C27FD184738D6E865A441DE98,u4ocm4qh",
		"FBFE8593AEFA510C27FD184738D6E865A441DE98,u4ocm4qh,10000,SHA512",
		"fbfe8593aefa510c27fd184738d6e865a441de98,salt/+=,1,sha256",
	} {
		if err := ValidatePasswordHash(ok); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
	for _, bad := range []string{"", "SYS", "FBFE8593AEFA510C27FD184738D6E865A441DE98", "nothex!,salt",
		"FBFE8593AEFA510C27FD184738D6E865A441DE98,salt,0,SHA512", "FBFE8593AEFA510C27FD184738D6E865A441DE98,salt,10000,MD5",
		"FBFE8593AEFA510C27FD184738D6E865A441DE98,salt,10000"} {
		if err := ValidatePasswordHash(bad); err == nil {
			t.Errorf("%q was accepted", bad)
		}
	}
}

// FuzzParseMerge: the parser never panics; what it accepts renders to text
// it accepts again unchanged; what it refuses names a line of the input.
func FuzzParseMerge(f *testing.F) {
	for _, seed := range []string{docMerge, docActions, "", "[config]\n", "[a]\nk=v\n[b]\nk=v\n", "x", "[Actions]\nA:B=\"c,d\"\n",
		"[config]\r\nglobals=0\r\n", "[Map.USER]\nGlobal_X=APP\n", "[Namespaces]\n%SYS=IRISSYS\n", "[]\n", "[config]\n=\n"} {
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
	})
}
