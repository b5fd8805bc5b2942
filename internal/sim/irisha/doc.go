// Package simirisha runs the real irisha inside the simulated cluster
// (internal/sim): the operator as a process next to the cluster, and the
// agent of every irisha pod, with the fake IRIS under it, as the process
// of that pod's IRIS container on its node. Failover tests and benchmarks
// then measure irisha itself, not only the reference deployment; pods of
// the reference YAML stay virtual, so both can share one cluster, unless
// RunnerOptions.Other runs their IRIS container as the fake IRIS alone
// (IrisMain), for a script to freeze and thaw as the reference's does.
//
//	bins, _ := simirisha.Build(dir)                 // once per test binary (TestMain)
//	c, _ := sim.Start(ctx, sim.Options{Runner: simirisha.Runner(bins, simirisha.RunnerOptions{})})
//	op, _ := simirisha.StartOperator(ctx, c, bins, simirisha.OperatorOptions{})
//	... create an IrisInstance, fail things ...
//	entries, err := simirisha.CheckJournal(dataDir) // W1 from the fake IRIS journal
package simirisha
