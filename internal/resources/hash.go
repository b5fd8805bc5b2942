package resources

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"

	"sigs.k8s.io/controller-runtime/pkg/client"
)

// StampHash records in obj's annotations a hash of obj as built (everything but
// that annotation). The reconciler compares the stamp on the live object with
// the stamp of the desired one and writes only when they differ: comparing
// whole objects would always differ because the API server adds defaults.
func StampHash(obj client.Object) error {
	ann := obj.GetAnnotations()
	delete(ann, AnnotationSpecHash)
	obj.SetAnnotations(ann)
	raw, err := json.Marshal(obj)
	if err != nil {
		return fmt.Errorf("hashing %T %s: %w", obj, obj.GetName(), err)
	}
	sum := sha256.Sum256(raw)
	if ann == nil {
		ann = map[string]string{}
	}
	ann[AnnotationSpecHash] = hex.EncodeToString(sum[:10])
	obj.SetAnnotations(ann)
	return nil
}

// HashOf returns the stamp StampHash left on obj, or "".
func HashOf(obj client.Object) string {
	return obj.GetAnnotations()[AnnotationSpecHash]
}
