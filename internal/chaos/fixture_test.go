package chaos

import (
	"flag"
	"time"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden from the current output")

// fixture is a sandbox run with --compare-reference: irisha and the
// reference YAML, three drills each. Between them: drills that recovered,
// one that did not (and whose rows could not be read back), one that
// recovered but whose rows were not read back, lost rows, stale acks, and
// node-kill's marks a fraction of a second apart, which the timeline must
// still label readably.
func fixture() *Report {
	return &Report{
		Cluster:   "kind-irisha",
		Namespace: "shop",
		Instance:  "db",
		Started:   time.Date(2026, 11, 30, 14, 2, 11, 0, time.UTC),
		Version:   "v0.4.0",
		Writer:    "one INSERT of a sequence number every 0.5 s over the superserver, read back with SELECT after recovery",
		Journal:   "synchronous commit (a commit returns once its journal block is on disk)",
		Timings:   "node-monitor-grace-period 40 s, out-of-service taint applied by the operator",
		Setups: []Setup{
			{
				Name:        "irisha",
				Description: "IrisInstance db with the irisha operator",
				Results: []Result{
					recovered(IrisStop, 13.43, 60, []Mark{
						{MarkFault, 0, "iris force inside db-0"},
						{MarkDetected, 3.0, "db-0 not Ready"},
						{MarkReady, 12.8, "db-0 Ready"},
						{MarkFirstWrite, 13.43, "row 44 acknowledged"},
					}),
					recovered(NodeKill, 41.2, 120, []Mark{
						{MarkFault, 0, "node-2 powered off"},
						{MarkDetected, 40.1, "node-2 NotReady"},
						{MarkFenced, 40.3, "out-of-service taint on node-2, volume attachment gone"},
						{MarkAttached, 40.6, "pvc-db-0 attached to node-3"},
						{MarkReady, 41.0, "db-0 Ready on node-3"},
						{MarkFirstWrite, 41.2, "row 96 acknowledged"},
					}),
					recovered(Drain, 9.26, 60, []Mark{
						{MarkFault, 0, "kubectl drain node-2"},
						{MarkDetected, 0.4, "db-0 terminating"},
						{MarkFenced, 2.1, "db-0 gone"},
						{MarkAttached, 6.0, "pvc-db-0 attached to node-3"},
						{MarkReady, 8.9, "db-0 Ready on node-3"},
						{MarkFirstWrite, 9.26, "row 32 acknowledged"},
					}),
				},
			},
			{
				Name:        "reference",
				Description: "the article's StatefulSet YAML, no operator",
				Results: []Result{
					unchecked(recovered(IrisStop, 13.9, 60, []Mark{
						{MarkFault, 0, "iris force inside db-0"},
						{MarkDetected, 3.1, "db-0 not Ready"},
						{MarkReady, 13.5, "db-0 Ready"},
						{MarkFirstWrite, 13.9, "row 45 acknowledged"},
					}), "reading the rows back: exec into db-0: container iris not found"),
					notRecovered(NodeKill, 120, []Mark{
						{MarkFault, 0, "node-2 powered off"},
						{MarkDetected, 40.2, "node-2 NotReady"},
					}),
					lossy(recovered(Drain, 31.7, 60, []Mark{
						{MarkFault, 0, "kubectl drain node-2"},
						{MarkDetected, 0.5, "db-0 terminating"},
						{MarkReady, 30.9, "db-0 Ready on node-3"},
						{MarkFirstWrite, 31.7, "row 73 acknowledged"},
					}), []int64{41, 42, 43}, 2),
				},
			},
		},
	}
}

// drills name each drill's failure domain and mitigation, in the
// article's words.
var drills = map[Scenario][2]string{
	IrisStop: {"IRIS instance inside the container", "the container's liveness probe restarts IRIS"},
	NodeKill: {"Kubernetes node", "the node is fenced and the pod starts on another node"},
	Drain:    {"node maintenance", "the pod is rescheduled with its volume"},
}

func recovered(s Scenario, rto, window float64, marks []Mark) Result {
	r := drill(s, window, marks)
	r.Recovered, r.RTOSeconds = true, &rto
	r.NewPod, r.NewNode = "db-0", "node-3"
	if s == IrisStop {
		r.NewNode = "node-2" // the container restarts in place
	}
	r.Checked, r.Lost = true, []int64{}
	r.Writes = writes(&rto, window)
	r.Acknowledged, r.Failed = count(r.Writes)
	return r
}

func notRecovered(s Scenario, window float64, marks []Mark) Result {
	r := drill(s, window, marks)
	r.Writes = writes(nil, window)
	r.Acknowledged, r.Failed = count(r.Writes)
	r.Error = "did not recover within 120 s: db-0 stays Terminating on the dead node; the rows could not be read back"
	return r
}

func unchecked(r Result, why string) Result {
	r.Checked, r.Lost, r.Error = false, nil, why
	return r
}

func lossy(r Result, lost []int64, stale int) Result {
	r.Lost, r.StaleAcks = lost, stale
	return r
}

func drill(s Scenario, window float64, marks []Mark) Result {
	return Result{
		Scenario: s, FailureDomain: drills[s][0], MitigatedBy: drills[s][1],
		Node: "node-2", OldPod: "db-0",
		FaultAt:       time.Date(2026, 11, 30, 14, 3, 0, 0, time.UTC),
		Marks:         marks,
		WindowSeconds: window,
	}
}

// writes are the writer's attempts every 0.5 s from 5 s before the fault:
// acknowledged before it, failing until the RTO, acknowledged after.
func writes(rto *float64, window float64) []Write {
	var out []Write
	seq := int64(1)
	for s := -5.0; s <= window; s += 0.5 {
		w := Write{Seq: seq, Seconds: s, Pod: "db-0", OK: s < 0 || (rto != nil && s >= *rto)}
		if w.OK {
			seq++
		}
		out = append(out, w)
	}
	return out
}

func count(ws []Write) (ok, failed int) {
	for _, w := range ws {
		if w.OK {
			ok++
		} else {
			failed++
		}
	}
	return ok, failed
}
