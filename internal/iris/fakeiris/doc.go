// Package fakeiris is the one stand-in for InterSystems IRIS in irisha's
// tests and simulated cluster, where IRIS cannot run. One binary
// (hack/fake-iris) acts as `iris` or `iris-main` depending on the name it is
// called by (install it as two symlinks), and implements what irisha uses,
// with IRIS's exit codes and output formats (internal/iris parses both):
//
//	iris-main [--up false] [--down false] [...]
//	    prepares durable %SYS, applies $ISC_CPF_MERGE_FILE, starts the
//	    instance as its child and streams its messages.log lines (ending
//	    with "Enabling logons"); on SIGTERM/SIGINT runs the graceful stop,
//	    bounded by the shutdown timeout. Exits with the instance: 0 after a
//	    clean stop (also one made by `iris stop`), 1 after a crash, a force
//	    or a forced (timed-out) stop. --up false starts nothing and waits
//	    for a signal; --down false leaves the instance running on SIGTERM
//	    (kill it yourself). Other iris-main options are accepted and ignored.
//	iris qlist IRIS               the 14-field qlist line: "running, since ..." with
//	                              health ok, "hung" while frozen, "alert" after a
//	                              crash recovery; "sign-on inhibited" while starting;
//	                              "starting or stopping" while stopping; "down, last used ..."
//	iris start IRIS               starts the instance detached; returns when logons are enabled
//	iris stop IRIS quietly        graceful stop; forced after the shutdown timeout
//	iris force IRIS               kills the instance's process group
//	iris merge IRIS [FILE]        validates FILE with iris.ParseMerge and the fake's refusals
//	                              (a section the CPF has not, a documented range broken:
//	                              gmheap 16384-1073741760 or 0) and merges it into iris.cpf;
//	                              a running instance takes the live settings at once and the
//	                              ones of iris.NeedsRestart (gmheap, ...) at its next start
//	                              (see Effective); a refusal exits 1 naming the line or
//	                              setting and changes nothing
//	iris session IRIS -U%SYS "##Class(Backup.General).ExternalFreeze(...)"  5 frozen, 3 failed
//	iris session IRIS -U%SYS "##Class(Backup.General).ExternalThaw()"      0
//	iris session IRIS -U%SYS "##Class(Backup.General).IsWDSuspendedExt()"  5 suspended, 3 not
//	iris stat IRIS -W             resumes a suspended write daemon
//	iris session IRIS -U USER     (no code) a terminal reading standard input, which must
//	                              be one of the chaos scripts of internal/iris: the write
//	                              (a row of ^irishaChaos, then "ACK <seq>") or the read
//	                              (the run's rows in seq order, then "END <count>"), with
//	                              the terminal's banner and USER> prompts around them;
//	                              other input exits 1 with <SYNTAX>, another namespace
//	                              with <NAMESPACE>
//
// Sessions and stat exit 1 when the instance is not running (a session says
// <Startup Error> and writes nothing).
//
// # Processes
//
// The instance is the same binary run with a hidden first argument, in a
// session (and process group) of its own, as IRIS's daemons are. It records
// its PID in the state file, listens on the superserver address (accepting
// and closing connections; it speaks no protocol) and appends to the journal.
// Everything a test starts can be killed by PID: iris-main's, and the
// instance's from mgr/fakeiris.json.
//
// # Files (durable %SYS under $ISC_DATA_DIRECTORY)
//
// A missing or empty directory is initialised with mgr/ and iris.cpf; a
// non-empty one without mgr/ (a volume root holding lost+found) is refused
// and iris-main exits 1, as the real container does not start.
//
//	iris.cpf              the CPF that merges update ([Startup] ShutdownTimeout is honoured)
//	mgr/fakeiris.json     state: {"pid", "up", "phase", "since", "frozen", "config", ...};
//	                      "config" is the configuration the instance runs with
//	mgr/fakeiris.control  control words, see below
//	mgr/journal.log       "<seq> <pid> <unix-nanos>" every journal interval, fsync'ed;
//	                      a restart continues the sequence; see ReadJournal and
//	                      CheckSingleWriter for measuring loss and spotting two writers
//	mgr/messages.log      the instance's log
//	mgr/user/chaos.log    the chaos writer's rows, "<run> <seq> <pid> <unix-nanos>" (pid: the
//	                      instance's), one write and fsync each as the journal; a torn
//	                      last line is skipped (ReadChaosRows)
//	mgr/merged.cpf        the last merge file applied
//
// # Scripting
//
// At start, through the environment (durations as in time.ParseDuration):
//
//	ISC_DATA_DIRECTORY         durable %SYS (required, absolute)
//	ISC_CPF_MERGE_FILE         merged at start: missing is reported and skipped,
//	                           malformed or refused fails the start. The fake does not
//	                           watch it afterwards: real IRIS does, but whether it sees a
//	                           Secret volume's symlink swap is unverified, so the fake
//	                           models the worst case and only `iris merge` applies a change
//	FAKEIRIS_SUPERSERVER       listen address (default 127.0.0.1:1972; tests use 127.0.0.1:0
//	                           and read the port from qlist)
//	FAKEIRIS_START_DELAY       time before logons are enabled (journal recovery)
//	FAKEIRIS_STOP_DELAY        time a graceful stop takes
//	FAKEIRIS_SHUTDOWN_TIMEOUT  overrides [Startup] ShutdownTimeout (default 300s)
//	FAKEIRIS_JOURNAL_INTERVAL  time between journal entries (default 100ms)
//	FAKEIRIS_CRASH_AFTER       the instance crashes (exit 3) this long after enabling logons
//	FAKEIRIS_ALERT_DURATION    how long health reads alert after a crash recovery (default 30m)
//	FAKEIRIS_VERSION           version in qlist (default 2025.1.0.223.0)
//
// At run time, through words in mgr/fakeiris.control (WriteControl), read
// every journal interval and by every command:
//
//	hang          alive but not answering: every iris command but start and force
//	              (chaos sessions included) blocks until the word is removed, the
//	              journal stops and SIGTERM is ignored, while the superserver still
//	              accepts connections
//	crash         the instance exits 3 at once; the word is consumed, so the next
//	              start runs (with crash recovery)
//	freeze-fails  ExternalFreeze exits 3
//	thaw-ignored  ExternalThaw exits 0 but leaves the write daemon suspended
//	hold-start    the instance stays "sign-on inhibited" until the word is removed
//	hold-stop     a graceful stop does not finish until the word is removed
//
// A freeze past its ExternalFreezeTimeOut (7th argument, default 600 s, cap
// 1200 s) pauses the journal and the chaos writes (which wait, unanswered)
// until thawed, as IRIS pauses user updates; within the timeout both go on.
package fakeiris
