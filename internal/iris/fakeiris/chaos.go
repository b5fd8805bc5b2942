package fakeiris

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/irisha/irisha/internal/iris"
)

// ChaosFile is where the chaos writer's rows (^irishaChaos in USER) live,
// relative to durable %SYS: the USER database's directory.
const ChaosFile = "mgr/user/chaos.log"

// chaosNamespace is the one namespace the fake runs terminal input in.
const chaosNamespace = "USER"

// maxScript bounds what a terminal session reads: the chaos scripts are a
// few hundred bytes, and a session must not buffer whatever it is fed.
const maxScript = 64 << 10

// ChaosRow is one line of mgr/user/chaos.log, "<run> <seq> <pid> <unix-nanos>":
// a row of ^irishaChaos(run,seq), set by the instance with process pid.
type ChaosRow struct {
	Run string
	Seq int64
	PID int
	At  time.Time
}

// terminal is `iris session IRIS -U USER` with no code argument: the
// terminal reads its input, which must be one of the chaos scripts of
// internal/iris (the fake interprets no ObjectScript), and prints what the
// real terminal would, prompts included, so the writer's parsers meet them.
func terminal(cfg config, namespace string, in io.Reader, out io.Writer) int {
	s := store{cfg}
	st, err := s.load()
	if err != nil || observed(st, alive) != phaseRunning {
		return say(out, exitSession, "<Startup Error>: InterSystems IRIS is not running")
	}
	if !strings.EqualFold(namespace, chaosNamespace) {
		return say(out, exitSession, "<NAMESPACE> %s: the fake has only the %s namespace's terminal", namespace, chaosNamespace)
	}
	script, err := io.ReadAll(io.LimitReader(in, maxScript))
	if err != nil {
		return say(out, exitSession, "<READ> reading the terminal's input: %v", err)
	}
	host, _ := os.Hostname()
	_, _ = fmt.Fprintf(out, "\nNode: %s, Instance: %s\n\n%s>", host, iris.InstanceName, chaosNamespace)
	if run, seq, ok := iris.ParseChaosWriteScript(script); ok {
		return chaosWrite(cfg, run, seq, out)
	}
	if run, ok := iris.ParseChaosReadScript(script); ok {
		return chaosRead(cfg, run, out)
	}
	first, _, _ := strings.Cut(string(script), "\n")
	return say(out, exitSession, "\n<SYNTAX> the fake IRIS runs only the chaos scripts of internal/iris, not %q", first)
}

// chaosWrite sets the row and acknowledges it. Past its
// ExternalFreezeTimeOut a frozen instance pauses user updates, so the set
// (and the acknowledgement after it) waits for the thaw; within the timeout
// only the database writes are suspended and the journal takes the update.
// An instance that goes down meanwhile ends the session, as IRIS halts its
// processes, with nothing written.
func chaosWrite(cfg config, run string, seq int64, out io.Writer) int {
	s := store{cfg}
	for {
		st, err := s.load()
		if err != nil || observed(st, alive) != phaseRunning {
			return say(out, exitSession, "\n<TERMINATED> InterSystems IRIS went down before the update")
		}
		if !updatesPaused(s, time.Now()) {
			if err := appendChaosRow(cfg, ChaosRow{Run: run, Seq: seq, PID: st.Pid, At: time.Now()}); err != nil {
				return say(out, exitSession, "\n<FILEFULL> %v", err)
			}
			_, _ = fmt.Fprintf(out, "\nACK %d\n\n%s>\n", seq, chaosNamespace)
			return 0
		}
		time.Sleep(poll)
	}
}

// chaosRead lists the run's rows in seq order, each once (a global node
// set twice is one node), then END.
func chaosRead(cfg config, run string, out io.Writer) int {
	rows, err := ReadChaosRows(cfg.dataDir)
	if err != nil {
		return say(out, exitSession, "\n<DATABASE> %v", err)
	}
	var seqs []int64
	for _, r := range rows {
		if r.Run == run {
			seqs = append(seqs, r.Seq)
		}
	}
	slices.Sort(seqs)
	seqs = slices.Compact(seqs)
	w := bufio.NewWriter(out)
	for _, seq := range seqs {
		_, _ = fmt.Fprintf(w, "\nROW %d", seq)
	}
	_, _ = fmt.Fprintf(w, "\n%s>\nEND %d\n\n%s>\n", chaosNamespace, len(seqs), chaosNamespace)
	if err := w.Flush(); err != nil {
		return exitSession
	}
	return 0
}

// appendChaosRow writes and syncs one row in one write, as the journal is
// written, so a crash leaves whole lines (or a torn last one) and a row on
// disk is one the writer may have been told of. No lock: two instances on
// one volume (a broken single-writer guarantee) must both get through, and
// show as two PIDs.
func appendChaosRow(cfg config, r ChaosRow) error {
	path := filepath.Join(cfg.dataDir, ChaosFile)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("creating the USER database directory: %w", err)
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return fmt.Errorf("opening %s: %w", ChaosFile, err)
	}
	defer func() { _ = f.Close() }()
	if _, err := fmt.Fprintf(f, "%s %d %d %d\n", r.Run, r.Seq, r.PID, r.At.UnixNano()); err != nil {
		return fmt.Errorf("writing %s: %w", ChaosFile, err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("syncing %s: %w", ChaosFile, err)
	}
	return nil
}

// ReadChaosRows returns every row of the instance in dataDir in the order
// written; none if no row was ever written. A torn last line (no newline
// yet) and malformed lines are skipped.
func ReadChaosRows(dataDir string) ([]ChaosRow, error) {
	b, err := os.ReadFile(filepath.Join(dataDir, ChaosFile))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading the chaos rows: %w", err)
	}
	lines := strings.Split(string(b), "\n")
	var rows []ChaosRow
	for _, line := range lines[:len(lines)-1] { // the last is empty or torn
		if r, ok := parseChaosRow(line); ok {
			rows = append(rows, r)
		}
	}
	return rows, nil
}

func parseChaosRow(line string) (ChaosRow, bool) {
	f := strings.Fields(line)
	if len(f) != 4 || iris.ValidateChaosRun(f[0]) != nil {
		return ChaosRow{}, false
	}
	seq, err1 := strconv.ParseInt(f[1], 10, 64)
	pid, err2 := strconv.Atoi(f[2])
	ns, err3 := strconv.ParseInt(f[3], 10, 64)
	if err1 != nil || err2 != nil || err3 != nil {
		return ChaosRow{}, false
	}
	return ChaosRow{Run: f[0], Seq: seq, PID: pid, At: time.Unix(0, ns)}, true
}
