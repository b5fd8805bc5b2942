// Package iris is the only code in irisha that knows InterSystems IRIS's
// text formats and command lines:
//
//   - CPF merge files ([ParseMerge], [MergeFile]): parsed and validated so the
//     operator rejects a bad spec.config before it reaches a pod, and edited
//     ([MergeFile.SetShutdownTimeout], [MergeFile.SetPasswordHash]) to inject
//     the settings irisha owns;
//   - `iris qlist` output ([ParseQlist], [Instance]);
//   - the `iris` commands the agent runs and their exit codes ([Client] over a
//     [Runner]): qlist, start, stop, force, merge, and the Backup.General
//     session calls, where 5 means frozen/suspended and 3 failed/not;
//   - the chaos writer's terminal scripts ([ChaosWriteScript],
//     [ChaosReadScript]) piped into [ChaosSessionArgv], their output
//     ([ParseChaosAck], [ParseChaosRows]), and their recognition by the fake
//     IRIS ([ParseChaosWriteScript], [ParseChaosReadScript]).
//
// Facts and their sources are in the shared reference iris-facts.md (§2 merge
// format, §3 freeze/thaw, §4 qlist and start/stop). Where IRIS's behaviour is
// not documented the package is strict: it is cheaper to reject a merge text
// IRIS would have accepted than to crash-loop a pod on one it refuses.
package iris
