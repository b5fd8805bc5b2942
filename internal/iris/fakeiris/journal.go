package fakeiris

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// JournalFile is the fake journal inside mgr/.
const JournalFile = "journal.log"

// JournalEntry is one line of mgr/journal.log, "<seq> <pid> <unix-nanos>":
// the running instance appends one every FAKEIRIS_JOURNAL_INTERVAL and
// fsyncs it, so an entry on disk is an update a failover must not lose.
type JournalEntry struct {
	Seq int64
	PID int
	At  time.Time
}

// journal appends entries. It takes no lock on purpose: a second instance
// on the same volume (a broken single-writer guarantee) must not be
// prevented, only made visible, by repeated or decreasing sequence numbers.
type journal struct {
	f   *os.File
	seq int64
}

func openJournal(cfg config) (*journal, error) {
	entries, err := ReadJournal(cfg.dataDir)
	if err != nil {
		return nil, err
	}
	f, err := os.OpenFile(cfg.mgr(JournalFile), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return nil, fmt.Errorf("opening the journal: %w", err)
	}
	j := &journal{f: f}
	if n := len(entries); n > 0 {
		j.seq = entries[n-1].Seq // a restarted instance continues the sequence
	}
	return j, nil
}

// append writes and syncs the next entry in one write, so a crash leaves
// whole lines.
func (j *journal) append(now time.Time) error {
	j.seq++
	if _, err := fmt.Fprintf(j.f, "%d %d %d\n", j.seq, os.Getpid(), now.UnixNano()); err != nil {
		return fmt.Errorf("writing the journal: %w", err)
	}
	if err := j.f.Sync(); err != nil {
		return fmt.Errorf("syncing the journal: %w", err)
	}
	return nil
}

func (j *journal) close() { _ = j.f.Close() }

// ReadJournal returns the journal of the instance in dataDir; a missing
// journal is empty. Malformed lines (a torn last line) are skipped.
func ReadJournal(dataDir string) ([]JournalEntry, error) {
	f, err := os.Open(filepath.Join(dataDir, "mgr", JournalFile))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading the journal: %w", err)
	}
	defer func() { _ = f.Close() }()
	var out []JournalEntry
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if e, ok := parseJournalLine(sc.Text()); ok {
			out = append(out, e)
		}
	}
	if err := sc.Err(); err != nil {
		return out, fmt.Errorf("reading the journal: %w", err)
	}
	return out, nil
}

func parseJournalLine(line string) (JournalEntry, bool) {
	f := strings.Fields(line)
	if len(f) != 3 {
		return JournalEntry{}, false
	}
	seq, err1 := strconv.ParseInt(f[0], 10, 64)
	pid, err2 := strconv.Atoi(f[1])
	ns, err3 := strconv.ParseInt(f[2], 10, 64)
	if err1 != nil || err2 != nil || err3 != nil {
		return JournalEntry{}, false
	}
	return JournalEntry{Seq: seq, PID: pid, At: time.Unix(0, ns)}, true
}

// CheckSingleWriter returns an error naming the first entry that proves two
// instances wrote at once: a sequence number that does not grow (the second
// writer started from the first's last number while the first went on), or
// a writer that comes back after another took over.
func CheckSingleWriter(entries []JournalEntry) error {
	done := map[int]bool{} // writers that have handed over
	for i := 1; i < len(entries); i++ {
		prev, e := entries[i-1], entries[i]
		if e.Seq <= prev.Seq {
			return fmt.Errorf("journal entry %d (pid %d) follows %d (pid %d): two writers", e.Seq, e.PID, prev.Seq, prev.PID)
		}
		if e.PID != prev.PID {
			done[prev.PID] = true
			if done[e.PID] {
				return fmt.Errorf("journal entry %d: pid %d writes again after pid %d took over: two writers", e.Seq, e.PID, prev.PID)
			}
		}
	}
	return nil
}
