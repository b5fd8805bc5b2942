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

// docActions is the documentation's [Actions] example.
const docActions = `[Actions]
CreateDatabase:Name=APPA,Directory=/database-path/APPA
ModifyNamespace:Name=APPA,Globals=APPA,Interop=1
CreateDatabase:Name=APPB,Directory=/database-path/APPB
CreateNamespace:Name=APPB,Globals=APPB,Interop=1
CreateMapGlobal:Name="global-name(1):(101)",Namespace=APPB,Database=APPA
CreateUser:Name=SQLAdmin,PasswordHash="<hash>,<salt>,10000,SHA512",Roles="%SQL,%DB_USER"
GrantAdminPrivilege:Grantee=SQLAdmin,Namespace=USER,AdminPriv="%DB_OBJECT_DEFINITION,%BUILD_INDEX"
ModifyService:Name=%Service_ComPort,AutheEnabled=$$$AuthePassword+$$$AutheUnauthenticated
ModifyUser:Name=_SYSTEM,ChangePassword=0,PasswordNeverExpires=1
`

// referenceMerge is the reference deployment's ConfigMap (ha-iris-k8s).
const referenceMerge = "[config]\nglobals=0,0,500,0,0,0\ngmheap=256000\n"

func TestParseMergeAcceptsDocumentedExamples(t *testing.T) {
	for _, tc := range []struct{ name, text string }{
		{"settings", docMerge},
		{"actions", docActions},
		{"reference deployment", referenceMerge},
		{"empty", ""},
		{"blank lines and CRLF", "\r\n[config]\r\n\r\nglobals=0,0,800,0,0,0\r\n"},
		{"indented", "  [config]\n\tglobals=1\n"},
		{"mapping sections", "[Map.USER]\nGlobal_A(\"x y\")=APP\n[Map.%SYS]\nPackage_Z=APP\n"},
		{"empty value", "[SQL]\nDefaultSchema=\n"},
		{"value with equals", "[Journal]\nCurrentDirectory=/j/a=b\n"},
		{"quoted quote in action", "[Actions]\nExecute:Namespace=USER,ClassName=\"a\"\"b\"\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := ParseMerge(tc.text)
			if err != nil {
				t.Fatal(err)
			}
			again, err := ParseMerge(m.Render())
			if err != nil || again.Render() != m.Render() {
				t.Errorf("rendering does not round-trip: %v\n%s", err, m.Render())
			}
		})
	}
}

func TestGetIsCaseInsensitive(t *testing.T) {
	m, err := ParseMerge(docMerge)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		section, key, want string
		ok                 bool
	}{
		{"config", "globals", "0,0,900,0,0,0", true},
		{"CONFIG", "GLOBALS", "0,0,900,0,0,0", true},
		{"startup", "passwordhash", "FBFE8593AEFA510C27FD184738D6E865A441DE98,u4ocm4qh", true},
		{"config", "missing", "", false},
		{"Missing", "globals", "", false},
	} {
		if got, ok := m.Get(tc.section, tc.key); got != tc.want || ok != tc.ok {
			t.Errorf("Get(%s, %s) = %q, %v; want %q, %v", tc.section, tc.key, got, ok, tc.want, tc.ok)
		}
	}
	names := []string{}
	for _, s := range m.Sections() {
		names = append(names, s.Name)
	}
	if got := strings.Join(names, ","); got != "Startup,config,SQL,SqlSysDatatypes" {
		t.Errorf("sections in order = %s", got)
	}
}

func TestParseMergeNamesTheBadLine(t *testing.T) {
	for _, tc := range []struct {
		name, text string
		line       int
		reason     string
	}{
		{"setting before any section", "globals=0,0,800\n", 1, "before any"},
		{"missing equals", "[config]\nok=1\nglobals 0,0\n", 3, `"globals 0,0" is not "key=value" inside a [section]`},
		{"empty key", "[config]\n=5\n", 2, "key=value"},
		{"blank before equals", "[config]\nglobals =5\n", 2, "key=value"},
		{"unclosed header", "[config\n", 1, "header"},
		{"empty section name", "[]\n", 1, "header"},
		{"blank in section name", "[con fig]\n", 1, "header"},
		{"blanks inside brackets", "[ config ]\n", 1, "header"},
		{"hash comment", "[config]\n# bigger cache\nglobals=0,0,800\n", 2, "comment"},
		{"semicolon comment", "; header\n[config]\n", 1, "comment"},
		{"duplicate key", "[config]\nglobals=1\nGLOBALS=2\n", 3, "again"},
		{"duplicate across a repeated section", "[config]\nglobals=1\n[SQL]\nx=1\n[CONFIG]\nglobals=2\n", 6, "again"},
		{"shutdown timeout too low", "[Startup]\nShutdownTimeout=30\n", 2, "120-100000"},
		{"shutdown timeout too high", "[startup]\nshutdowntimeout=100001\n", 2, "120-100000"},
		{"shutdown timeout not a number", "[Startup]\nShutdownTimeout=5m\n", 2, "whole number"},
		{"bad password hash", "[Startup]\nPasswordHash=SYS\n", 2, "hash,salt"},
		{"action without verb", "[Actions]\nName=APPA\n", 2, "action"},
		{"action with a blank in the verb", "[Actions]\nCreate User:Name=a\n", 2, "action"},
		{"action without arguments", "[Actions]\nCreateUser:\n", 2, "no arguments"},
		{"action with unquoted comma", "[Actions]\nCreateUser:Name=a,Roles=%SQL,%DB_USER\n", 2, "Name=Value"},
		{"action with unquoted equals", "[Actions]\nCreateUser:Name=a=b\n", 2, "outside double quotes"},
		{"action with unclosed quote", "[Actions]\nCreateUser:Name=\"a\n", 2, "unclosed"},
		{"action with half-quoted value", "[Actions]\nCreateUser:Name=a\"b,c\"\n", 2, "does not enclose"},
		{"action with a lone inner quote", "[Actions]\nCreateUser:Name=\"a\"b\"\n", 2, "unclosed"},
		{"action with a repeated argument", "[Actions]\nCreateUser:Name=a,name=b\n", 2, "twice"},
		{"action with a trailing comma", "[Actions]\nCreateUser:Name=a,\n", 2, "Name=Value"},
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
			if strings.ContainsAny(pe.Text, "\r\n") {
				t.Errorf("Text %q keeps a line ending", pe.Text)
			}
		})
	}
}

func TestSet(t *testing.T) {
	m, err := ParseMerge("[startup]\nshutdowntimeout=200\n[config]\nglobals=1\n")
	if err != nil {
		t.Fatal(err)
	}
	for _, err := range []error{
		m.SetShutdownTimeout(300),
		m.SetPasswordHash("FBFE8593AEFA510C27FD184738D6E865A441DE98,u4ocm4qh"),
		m.Set("Journal", "FreezeOnError", "1"),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
	want := "[startup]\nshutdowntimeout=300\nPasswordHash=FBFE8593AEFA510C27FD184738D6E865A441DE98,u4ocm4qh\n[config]\nglobals=1\n[Journal]\nFreezeOnError=1\n"
	if got := m.Render(); got != want {
		t.Errorf("Render =\n%s\nwant\n%s", got, want)
	}
}

func TestSetRefusesWhatCannotRoundTrip(t *testing.T) {
	for _, tc := range []struct{ name, section, key, value string }{
		{"actions section", "Actions", "CreateUser", "Name=x"},
		{"bad section name", "con fig", "k", "v"},
		{"empty key", "config", "", "v"},
		{"key with equals", "config", "a=b", "v"},
		{"key like a header", "config", "[x]", "v"},
		{"key like a comment", "config", "#x", "v"},
		{"key with blanks around", "config", " k", "v"},
		{"value with a line break", "config", "k", "a\nb"},
		{"value with trailing blanks", "config", "k", "v "},
		{"shutdown timeout out of range", "Startup", "ShutdownTimeout", "60"},
		{"malformed password hash", "Startup", "PasswordHash", "SYS"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := &MergeFile{}
			if err := m.Set(tc.section, tc.key, tc.value); err == nil {
				t.Errorf("Set(%q, %q, %q) was accepted: %q", tc.section, tc.key, tc.value, m.Render())
			}
			if m.Render() != "" {
				t.Errorf("a refused Set changed the file: %q", m.Render())
			}
		})
	}
}

func TestValidateShutdownTimeout(t *testing.T) {
	for _, tc := range []struct {
		seconds int
		ok      bool
	}{{119, false}, {120, true}, {300, true}, {100000, true}, {100001, false}, {-1, false}} {
		if err := ValidateShutdownTimeout(tc.seconds); (err == nil) != tc.ok {
			t.Errorf("%d: err = %v, want ok %v", tc.seconds, err, tc.ok)
		}
	}
}

func TestValidatePasswordHash(t *testing.T) {
	const hash = "FBFE8593AEFA510C27FD184738D6E865A441DE98"
	for _, tc := range []struct {
		in     string
		reason string // empty: valid
	}{
		{hash + ",u4ocm4qh", ""},
		{hash + ",u4ocm4qh,10000,SHA512", ""},
		{strings.ToLower(hash) + ",salt/+=,1,sha256", ""},
		{"", "hash,salt"},
		{"SYS", "hash,salt"},
		{hash, "hash,salt"},
		{hash + ",salt,10000", "hash,salt"},
		{"nothex!,salt", "hexadecimal"},
		{hash + ",", "salt"},
		{hash + ",sa lt", "salt"},
		{hash + ",salt,0,SHA512", "work factor"},
		{hash + ",salt,+5,SHA512", "work factor"},
		{hash + ",salt,10000,MD5", "algorithm"},
		{hash + ",salt\n", "line break"},
	} {
		err := ValidatePasswordHash(tc.in)
		switch {
		case tc.reason == "" && err != nil:
			t.Errorf("%q: %v", tc.in, err)
		case tc.reason != "" && (err == nil || !strings.Contains(err.Error(), tc.reason)):
			t.Errorf("%q: err = %v, want one mentioning %q", tc.in, err, tc.reason)
		}
	}
}
