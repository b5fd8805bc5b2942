package fakeiris

import (
	"io"
	"net"
	"os"
	"os/signal"
	"slices"
	"syscall"
	"time"
)

// Exit codes of the instance process.
const (
	exitStopped = 0
	exitFailed  = 1
	exitCrashed = 3
)

// daemon is the instance process: it records itself in the state file,
// recovers, waits out a slow start, listens on the superserver port,
// enables logons and appends to the journal until it is stopped, forced or
// scripted to crash.
func daemon(cfg config, out io.Writer) int {
	s := store{cfg}
	msg := messages{cfg: cfg, out: out, now: time.Now}
	term := make(chan os.Signal, 4)
	signal.Notify(term, syscall.SIGTERM, syscall.SIGINT)

	now := time.Now()
	before, _, err := s.update(func(st *state) {
		recovering := st.Pid != 0 && !st.CleanStop
		*st = state{Pid: os.Getpid(), Phase: phaseStarting, Since: now, AlertUntil: st.AlertUntil, Config: loadEffective(cfg)}
		if recovering {
			st.AlertUntil = now.Add(cfg.alertDuration)
		}
	})
	if err != nil {
		msg.log(sevSevere, "Generic.Event", "cannot record the instance state: %v", err)
		return exitFailed
	}
	msg.log(sevInfo, "Generic.Event", "Starting InterSystems IRIS %s", cfg.version)
	if before.Pid != 0 && !before.CleanStop {
		msg.log(sevSevere, "Generic.Event", "Previous system shutdown was abnormal, system forced down or crashed")
		msg.log(sevSevere, "Generic.Event", "Preserving journal files for journal recovery")
	}
	if !waitStartGate(cfg, term) {
		return shutdown(cfg, s, msg, nil, nil)
	}

	ln, err := net.Listen("tcp", cfg.superserver)
	if err != nil {
		msg.log(sevSevere, "Generic.Event", "Superserver cannot listen on %s: %v", cfg.superserver, err)
		return markFailed(s)
	}
	go acceptAndClose(ln)
	j, err := openJournal(cfg)
	if err != nil {
		msg.log(sevSevere, "Generic.Event", "%v", err)
		return markFailed(s)
	}
	if _, _, err := s.update(func(st *state) {
		st.Up, st.Phase, st.Since, st.Superserver = true, phaseRunning, time.Now(), ln.Addr().String()
	}); err != nil {
		msg.log(sevSevere, "Generic.Event", "cannot record the instance state: %v", err)
		return exitFailed
	}
	msg.log(sevInfo, "Utility.Event", "Enabling logons")
	return run(cfg, s, msg, term, ln, j)
}

// waitStartGate waits out FAKEIRIS_START_DELAY (journal recovery) and any
// hold-start word; false means a stop was asked for meanwhile.
func waitStartGate(cfg config, term <-chan os.Signal) bool {
	deadline := time.After(cfg.startDelay)
	for passed := false; !passed || cfg.control(ControlHoldStart); {
		select {
		case <-term:
			return false
		case <-deadline:
			passed, deadline = true, nil
		case <-time.After(poll):
		}
	}
	return true
}

// run is the running instance's loop.
func run(cfg config, s store, msg messages, term <-chan os.Signal, ln net.Listener, j *journal) int {
	tick := time.NewTicker(cfg.journalInterval)
	defer tick.Stop()
	var crash <-chan time.Time
	if cfg.crashAfter > 0 {
		crash = time.After(cfg.crashAfter)
	}
	for {
		select {
		case <-crash:
			msg.log(sevSevere, "Generic.Event", "Crashing as scripted by %s", EnvCrashAfter)
			return exitCrashed
		case <-term:
			if cfg.control(ControlHang) {
				continue // a hung instance does not answer a shutdown request
			}
			return shutdown(cfg, s, msg, ln, j)
		case <-tick.C:
			// Stamped with the time of the write, not the tick's: a ticker
			// delivers the time the tick was due, which after a SIGSTOP
			// (a frozen node) is from before the pause, and the journal
			// must say when the write happened.
			now := time.Now()
			words := cfg.controls()
			if slices.Contains(words, ControlCrash) {
				_ = cfg.consumeControl(ControlCrash)
				msg.log(sevSevere, "Generic.Event", "Crashing as scripted by the control file")
				return exitCrashed
			}
			if slices.Contains(words, ControlHang) || updatesPaused(s, now) {
				continue
			}
			if err := j.append(now); err != nil {
				msg.log(sevSevere, "Generic.Event", "%v", err)
				return exitCrashed
			}
		}
	}
}

// updatesPaused: after ExternalFreezeTimeOut a frozen instance pauses user
// updates until it is thawed, so nothing reaches the journal.
func updatesPaused(s store, now time.Time) bool {
	st, err := s.load()
	return err == nil && st.Frozen && !st.FrozenUntil.IsZero() && now.After(st.FrozenUntil)
}

// shutdown is the graceful stop: logons off, FAKEIRIS_STOP_DELAY and any
// hold-stop word, then a clean state so the next start needs no recovery.
func shutdown(cfg config, s store, msg messages, ln net.Listener, j *journal) int {
	_, _, _ = s.update(func(st *state) { st.Up, st.Phase, st.Since = false, phaseStopping, time.Now() })
	msg.log(sevInfo, "Generic.Event", "Shutting down InterSystems IRIS")
	for deadline := time.Now().Add(cfg.stopDelay); time.Now().Before(deadline) || cfg.control(ControlHoldStop); {
		time.Sleep(poll)
	}
	if ln != nil {
		_ = ln.Close()
	}
	if j != nil {
		j.close()
	}
	msg.log(sevInfo, "Generic.Event", "Journal restore not required at next startup")
	msg.log(sevInfo, "Generic.Event", "Transaction rollback not required at next startup")
	if _, _, err := s.update(func(st *state) {
		st.Up, st.Phase, st.Since, st.CleanStop, st.Frozen = false, phaseDown, time.Now(), true, false
	}); err != nil {
		msg.log(sevSevere, "Generic.Event", "cannot record the clean stop: %v", err)
		return exitFailed
	}
	return exitStopped
}

func markFailed(s store) int {
	_, _, _ = s.update(func(st *state) { st.Up, st.Phase, st.Since = false, phaseDown, time.Now() })
	return exitFailed
}

// acceptAndClose is the superserver: it accepts connections (so a TCP
// readiness check passes, even while hung) and speaks no protocol.
func acceptAndClose(ln net.Listener) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		_ = c.Close()
	}
}
