// Package fakeiris is the one stand-in for InterSystems IRIS in irisha's
// tests and simulated cluster: IRIS cannot run here. One binary
// (hack/fake-iris) acts as `iris` or `iris-main` depending on the name it is
// called by, and implements what irisha uses, with IRIS's exit codes:
//
//	iris-main [--up false] ...        starts the instance, logs "Enabling logons",
//	                                  stops it cleanly on SIGTERM/SIGINT, exits 1 if it dies
//	iris qlist IRIS                   the qlist line; health reads "hung" while frozen
//	iris stop IRIS quietly            clean stop
//	iris force IRIS                   kill
//	iris merge IRIS FILE              validates FILE like IRIS, naming the bad line
//	iris session IRIS -U%SYS "##Class(Backup.General).ExternalFreeze(...)"  exit 5 frozen, 3 failed
//	iris session IRIS -U%SYS "##Class(Backup.General).ExternalThaw()"
//	iris session IRIS -U%SYS "##Class(Backup.General).IsWDSuspendedExt()"  exit 5 suspended, 3 not
//	iris stat IRIS -W                 resumes a suspended write daemon
//
// State lives in $ISC_DATA_DIRECTORY/mgr like durable %SYS, so a restarted
// container finds what the previous one wrote: the running instance appends
// "<seq> <pid> <unix-nanos>" lines to mgr/journal.log and fsyncs them, which
// lets tests measure data loss and see a second writer.
//
// Behaviour is scripted through the environment at start:
//
//	FAKEIRIS_SUPERSERVER       listen address (default 127.0.0.1:1972)
//	FAKEIRIS_START_DELAY       time before the instance runs (journal recovery)
//	FAKEIRIS_STOP_DELAY        time a clean stop takes
//	FAKEIRIS_JOURNAL_INTERVAL  time between journal lines (default 100ms)
//
// and at run time through words in the file mgr/fakeiris.control:
//
//	hang          qlist never answers (alive but not answering)
//	crash         the instance exits with an error
//	freeze-fails  ExternalFreeze exits 3
//	thaw-ignored  ExternalThaw leaves the write daemon suspended
package fakeiris
