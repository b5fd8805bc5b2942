// Package supervisor runs IRIS's entrypoint (iris-main) as the child of the
// agent, which is PID 1 of the IRIS container: it forwards SIGTERM and SIGINT,
// reaps every zombie (orphans are re-parented to PID 1, and IRIS leaves many
// short-lived processes), returns the child's exit code, and can stop the
// whole process tree hard when the fencing Lease is lost.
//
// Outside a container (tests, the simulated cluster) the agent is not PID 1,
// so it marks itself a child subreaper: orphans of its tree come to it, not
// to the machine's init, and the same code reaps and kills them.
package supervisor
