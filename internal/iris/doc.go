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
// The facts come from InterSystems' documentation: configuration merge
// (https://docs.intersystems.com/irislatest/csp/docbook/DocBook.UI.Page.cls?KEY=ACMF), the
// [Startup] ShutdownTimeout parameter
// (https://docs.intersystems.com/irislatest/csp/docbook/DocBook.UI.Page.cls?KEY=RACS_ShutdownTimeout),
// external backup with Backup.General's ExternalFreeze and ExternalThaw
// (https://docs.intersystems.com/irislatest/csp/docbook/DocBook.UI.Page.cls?KEY=GCDI_backup) and
// the iris command (https://docs.intersystems.com/irislatest/csp/docbook/DocBook.UI.Page.cls?KEY=GSA_using_instance).
// Where IRIS's behaviour is
// not documented the package is strict: it is cheaper to reject a merge text
// IRIS would have accepted than to crash-loop a pod on one it refuses.
package iris
