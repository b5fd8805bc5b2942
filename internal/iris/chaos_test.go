package iris

import (
	"bytes"
	"slices"
	"strings"
	"testing"
)

func TestChaosWriteScript(t *testing.T) {
	script, err := ChaosWriteScript("drill-1", 42)
	if err != nil {
		t.Fatal(err)
	}
	want := "tstart  set ^irishaChaos(\"drill-1\",42)=$ZTIMESTAMP tcommit  write !,\"ACK \",42,!\nhalt\n"
	if string(script) != want {
		t.Errorf("script\n%s\nwant\n%s", script, want)
	}
	run, seq, ok := ParseChaosWriteScript(script)
	if !ok || run != "drill-1" || seq != 42 {
		t.Errorf("parsed back as %q %d %v", run, seq, ok)
	}
	if _, _, ok := ParseChaosWriteScript(bytes.ReplaceAll(script, []byte("\n"), []byte("\r\n"))); !ok {
		t.Error("CRLF line ends not recognised")
	}
	// an echo of the script, or the prompt, is no acknowledgement
	if ParseChaosAck(append([]byte("USER>"), script...), 42) {
		t.Error("the echoed script read as an acknowledgement")
	}
	for _, out := range []string{"\nUSER>\nACK 42\nUSER>", "ACK 42\r\n", "  ACK 42  "} {
		if !ParseChaosAck([]byte(out), 42) {
			t.Errorf("%q does not acknowledge 42", out)
		}
	}
	for _, out := range []string{"", "USER>\nACK 4\n", "ACK 420\n", "<PROTECT>\n", "USER>ACK 42"} {
		if ParseChaosAck([]byte(out), 42) {
			t.Errorf("%q acknowledges 42", out)
		}
	}
}

func TestChaosReadScript(t *testing.T) {
	script, err := ChaosReadScript("drill-1")
	if err != nil {
		t.Fatal(err)
	}
	// argumentless FOR and QUIT need two spaces before the next command
	if !bytes.Contains(script, []byte("for  set")) || !bytes.Contains(script, []byte(`quit:s=""  set`)) || !bytes.HasSuffix(script, []byte("\nhalt\n")) {
		t.Errorf("script:\n%s", script)
	}
	if run, ok := ParseChaosReadScript(script); !ok || run != "drill-1" {
		t.Errorf("parsed back as %q %v", run, ok)
	}
	if _, _, ok := ParseChaosWriteScript(script); ok {
		t.Error("a read script parsed as a write")
	}
	w, _ := ChaosWriteScript("drill-1", 1)
	if _, ok := ParseChaosReadScript(w); ok {
		t.Error("a write script parsed as a read")
	}
}

func TestChaosScriptsRejectOtherInput(t *testing.T) {
	w, _ := ChaosWriteScript("r", 7)
	r, _ := ChaosReadScript("r")
	for _, in := range []string{
		"",
		"halt\n",
		`write "hello",!` + "\nhalt\n",
		string(w) + "kill ^irishaChaos\n", // something appended
		strings.Replace(string(w), "halt", "hang 1", 1),                                        // something changed
		strings.Replace(string(r), "write:done", "write", 1),                                   // END even when cut off
		`tstart  set ^irishaChaos("R",7)=$ZTIMESTAMP tcommit  write !,"ACK ",7,!` + "\nhalt\n", // not a valid run id
	} {
		if run, seq, ok := ParseChaosWriteScript([]byte(in)); ok {
			t.Errorf("%q parsed as the write of %s %d", in, run, seq)
		}
		if run, ok := ParseChaosReadScript([]byte(in)); ok {
			t.Errorf("%q parsed as the read of %s", in, run)
		}
	}
}

func TestChaosRunValidated(t *testing.T) {
	for _, run := range []string{"", "-x", "Drill", "a b", `a"b`, "a_b", strings.Repeat("a", 64)} {
		if _, err := ChaosWriteScript(run, 1); err == nil {
			t.Errorf("write with run %q accepted", run)
		}
		if _, err := ChaosReadScript(run); err == nil {
			t.Errorf("read with run %q accepted", run)
		}
	}
	if _, err := ChaosWriteScript("ok", -1); err == nil {
		t.Error("a negative sequence number accepted")
	}
	if _, err := ChaosWriteScript(strings.Repeat("a", 63), 0); err != nil {
		t.Errorf("a 63-character run: %v", err)
	}
}

func TestParseChaosRows(t *testing.T) {
	for _, tc := range []struct {
		name string
		out  string
		want []int64
		err  bool
	}{
		{"rows", "\nUSER>\nROW 1\nROW 2\nROW 10\nUSER>\nEND 3\nUSER>", []int64{1, 2, 10}, false},
		{"none", "USER>\nUSER>\nEND 0\r\n", nil, false},
		{"echoed script", "USER>set s=\"\" ... write !,\"ROW \",s\nROW 5\nUSER>write:done !,\"END \",n,!\nEND 1\n", []int64{5}, false},
		{"cut off", "ROW 1\nROW 2\n", nil, true},
		{"count disagrees", "ROW 1\nEND 2\n", nil, true},
		{"an error instead", "USER>\n<UNDEFINED>\nUSER>", nil, true},
		{"bad row", "ROW x\nEND 1\n", nil, true},
		{"bad end", "END many\n", nil, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseChaosRows([]byte(tc.out))
			if (err != nil) != tc.err || !slices.Equal(got, tc.want) {
				t.Errorf("ParseChaosRows(%q) = %v, %v; want %v (error %v)", tc.out, got, err, tc.want, tc.err)
			}
		})
	}
}

func TestChaosSessionArgv(t *testing.T) {
	if got := ChaosSessionArgv(); !slices.Equal(got, []string{"iris", "session", "IRIS", "-U", "USER"}) {
		t.Errorf("argv %q", got)
	}
}
