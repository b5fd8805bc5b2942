package chaos

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/irisha/irisha/api/v1alpha1"
	"github.com/irisha/irisha/internal/iris"
	"github.com/irisha/irisha/internal/resources"
)

// WriterOverExec says how the drills write on a real cluster.
const WriterOverExec = "one transaction per row (TSTART, SET ^irishaChaos, TCOMMIT) through `iris session IRIS -U USER` in the IRIS container (kubectl exec); a row counts once IRIS answered ACK"

// JournalSettings says what an acknowledged row means for the instance:
// whether a commit waits for its journal write ([Miscellaneous]
// SynchCommit in the effective CPF merge file the operator keeps in the
// instance's Secret).
func JournalSettings(ctx context.Context, c client.Client, namespace, instance string) string {
	inst := &v1alpha1.IrisInstance{}
	if err := c.Get(ctx, client.ObjectKey{Namespace: namespace, Name: instance}, inst); err != nil {
		return fmt.Sprintf("unknown (reading IrisInstance %s: %v)", instance, err)
	}
	s := &corev1.Secret{}
	if err := c.Get(ctx, client.ObjectKey{Namespace: namespace, Name: resources.MergeSecretName(inst)}, s); err != nil {
		return fmt.Sprintf("unknown (reading the merge Secret: %v)", err)
	}
	return journalSettings(string(s.Data[resources.MergeFileKey]))
}

func journalSettings(mergeText string) string {
	m, err := iris.ParseMerge(mergeText)
	if err != nil {
		return fmt.Sprintf("unknown (the merge file does not parse: %v)", err)
	}
	if v, _ := m.Get("Miscellaneous", "SynchCommit"); v == "1" {
		return "[Miscellaneous] SynchCommit=1: a commit waits for its journal write, so an acknowledged row is on disk"
	}
	return "[Miscellaneous] SynchCommit=0 (IRIS's default): a commit does not wait for its journal write, so a node loss may cost " +
		"the rows of IRIS's last journal write cycle (under 2 s, as the article says), acknowledged or not; SynchCommit=1 makes every acknowledged row durable"
}
