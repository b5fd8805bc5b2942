package iris

import (
	"bytes"
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// The chaos writer's scripts: `irisha chaos` appends sequence-numbered rows
// to ^irishaChaos through `iris session` in the IRIS container, and reads
// them back after a recovery to count what an acknowledged write lost. This
// file is their one definition; the fake IRIS recognises them through the
// Parse*Script functions, so the scripts the writer sends and the ones the
// fake runs cannot drift apart.
//
// The scripts are terminal input: `iris session IRIS -U USER` with no code
// argument reads standard input line by line at the USER> prompt and
// executes each line, until `halt`. A line is the unit of failure: an error
// abandons the rest of its line (and prints the error), and the next line
// runs. So what must not happen after a failure (the acknowledgement, the
// end marker) is on the same line as what can fail, or guarded by a flag
// set on it.
//
// Output lines are recognised only when a line is exactly "ACK <seq>",
// "ROW <seq>" or "END <count>" once trimmed: the terminal prints its prompt
// ("USER>") before each line's output, and may echo the input, so every
// marker is written after a new line, and the script builds it from pieces
// ("ACK ",seq) that an echo of the script cannot match.

// ChaosGlobal is the global the chaos writer's rows live in:
// ^irishaChaos(run,seq)=$ZTIMESTAMP.
const ChaosGlobal = "^irishaChaos"

// chaosRun is a run id: short, lower-case letters, digits and dashes, so it
// goes into an ObjectScript string literal without quoting and into the
// fake's row file as one field.
var chaosRun = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,62}$`)

// ChaosSessionArgv is the command the chaos scripts are piped into: an
// ObjectScript terminal in the USER namespace (OS authentication lets the
// container's user in without a password).
func ChaosSessionArgv() []string {
	return []string{"iris", "session", InstanceName, "-U", "USER"}
}

// ValidateChaosRun says why run cannot name a chaos run, or nil.
func ValidateChaosRun(run string) error {
	if !chaosRun.MatchString(run) {
		return fmt.Errorf("chaos run id %q: want 1 to 63 of a-z, 0-9 and -, starting with a letter or digit", run)
	}
	return nil
}

// ChaosWriteScript sets ^irishaChaos(run,seq) to the current UTC timestamp
// in a transaction of its own and writes "ACK <seq>" on a line of its own,
// on the same line of input so that a failed set or commit (IRIS not
// accepting updates) writes no acknowledgement; then halts. The TCOMMIT
// is what asks IRIS to flush the journal: with [Miscellaneous]
// SynchCommit=1 it returns once the row is on disk, with IRIS's default 0
// it does not wait, and an acknowledged row may be lost with the node.
func ChaosWriteScript(run string, seq int64) ([]byte, error) {
	if err := ValidateChaosRun(run); err != nil {
		return nil, err
	}
	if seq < 0 {
		return nil, fmt.Errorf("chaos row %d: sequence numbers start at 0", seq)
	}
	return fmt.Appendf(nil, "tstart  set %s(%q,%d)=$ZTIMESTAMP tcommit  write !,\"ACK \",%d,!\nhalt\n", ChaosGlobal, run, seq, seq), nil
}

// ChaosReadScript lists run's rows in subscript order (numeric: seq order)
// as "ROW <seq>" lines, then "END <count>", then halts. END is written only
// if the $ORDER loop ran to its end (done is set on the loop's own line), so
// a read cut short by an error has no END and is not mistaken for rows lost.
func ChaosReadScript(run string) ([]byte, error) {
	if err := ValidateChaosRun(run); err != nil {
		return nil, err
	}
	// Argumentless FOR and QUIT are followed by two spaces, as ObjectScript
	// requires before the next command on the line.
	return fmt.Appendf(nil, "set s=\"\",n=0,done=0 for  set s=$ORDER(%s(%q,s)) set:s=\"\" done=1 quit:s=\"\"  set n=n+1 write !,\"ROW \",s\n"+
		"write:done !,\"END \",n,!\nhalt\n", ChaosGlobal, run), nil
}

// ParseChaosAck reports whether out, a write script's output, acknowledges
// row seq.
func ParseChaosAck(out []byte, seq int64) bool {
	want := "ACK " + strconv.FormatInt(seq, 10)
	for _, line := range lines(out) {
		if line == want {
			return true
		}
	}
	return false
}

// ParseChaosRows returns the rows a read script's output lists, in the
// order listed. Without an END line, or when END's count is not the number
// of rows listed, the read was cut off and the rows are not known: an
// error, never fewer rows.
func ParseChaosRows(out []byte) ([]int64, error) {
	var rows []int64
	for _, line := range lines(out) {
		if v, ok := strings.CutPrefix(line, "ROW "); ok {
			seq, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				return nil, fmt.Errorf("reading chaos rows: bad row line %q", line)
			}
			rows = append(rows, seq)
			continue
		}
		if v, ok := strings.CutPrefix(line, "END "); ok {
			n, err := strconv.Atoi(v)
			if err != nil {
				return nil, fmt.Errorf("reading chaos rows: bad end line %q", line)
			}
			if n != len(rows) {
				return nil, fmt.Errorf("reading chaos rows: the read ended with a count of %d but listed %d rows", n, len(rows))
			}
			return rows, nil
		}
	}
	return nil, fmt.Errorf("reading chaos rows: the output has no END line after %d rows: the read was cut off", len(rows))
}

// chaosWriteLine and chaosReadLine pick the run (and seq) out of a script's
// first line; the Parse*Script functions then check the whole script is
// the one the Chaos*Script functions make of them.
var (
	chaosWriteLine = regexp.MustCompile(`^tstart  set \^irishaChaos\("([a-z0-9-]+)",(\d+)\)=`)
	chaosReadLine  = regexp.MustCompile(`^set s="",n=0,done=0 for  set s=\$ORDER\(\^irishaChaos\("([a-z0-9-]+)",s\)\)`)
)

// ParseChaosWriteScript returns the run and seq of a script made by
// ChaosWriteScript; ok is false for any other input.
func ParseChaosWriteScript(in []byte) (run string, seq int64, ok bool) {
	m := chaosWriteLine.FindSubmatch(in)
	if m == nil {
		return "", 0, false
	}
	seq, err := strconv.ParseInt(string(m[2]), 10, 64)
	if err != nil {
		return "", 0, false
	}
	want, err := ChaosWriteScript(string(m[1]), seq)
	if err != nil || !bytes.Equal(normalizeScript(in), want) {
		return "", 0, false
	}
	return string(m[1]), seq, true
}

// ParseChaosReadScript returns the run of a script made by
// ChaosReadScript; ok is false for any other input.
func ParseChaosReadScript(in []byte) (run string, ok bool) {
	m := chaosReadLine.FindSubmatch(in)
	if m == nil {
		return "", false
	}
	want, err := ChaosReadScript(string(m[1]))
	if err != nil || !bytes.Equal(normalizeScript(in), want) {
		return "", false
	}
	return string(m[1]), true
}

// normalizeScript turns CRLF line ends into LF, as a terminal reads either.
func normalizeScript(in []byte) []byte { return bytes.ReplaceAll(in, []byte("\r\n"), []byte("\n")) }

// lines splits terminal output into trimmed lines; a prompt printed before
// a line's output ("USER>ACK 5" when nothing wrote a new line first) is
// not stripped: the scripts always start their markers on a new line.
func lines(out []byte) []string {
	ls := strings.Split(string(out), "\n")
	for i, l := range ls {
		ls[i] = strings.TrimSpace(l)
	}
	return ls
}
