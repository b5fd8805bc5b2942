package kubelet

import (
	"context"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// ServiceAccountMountPath is where the ServiceAccount admission plugin
// mounts a pod's API credentials (token, ca.crt, namespace) and where
// in-cluster clients read them.
const ServiceAccountMountPath = "/var/run/secrets/kubernetes.io/serviceaccount"

// tokenMaxAge is when the kubelet's token manager refreshes a token at the
// latest, whatever its expiry (24 h); before that, at 80 % of its life.
const tokenMaxAge = 24 * time.Hour

// projectedVolume is the host directory standing for one projected volume
// of a pod, and the ServiceAccount tokens in it the kubelet keeps fresh.
type projectedVolume struct {
	name   string
	dir    string
	tokens []projectedToken
}

// projectedToken is one serviceAccountToken source and when its file must
// be written again.
type projectedToken struct {
	src       *corev1.ServiceAccountTokenProjection
	refreshAt time.Time
}

// podDir is the host directory of one pod's kubelet files ("" without a
// StateDir).
func (k *Kubelet) podDir(pod *corev1.Pod) string {
	if k.cfg.StateDir == "" {
		return ""
	}
	return filepath.Join(k.cfg.StateDir, "pods", string(pod.UID))
}

// syncProjected writes the pod's projected volumes once (before its
// containers first start, as the kubelet mounts them) and rewrites their
// ServiceAccount tokens when due; it returns the time until the next
// refresh. A token is requested through the TokenRequest API for the pod's
// ServiceAccount and bound to the pod, as the kubelet does: it dies with
// the pod object, so a process left running by a force-deleted pod is
// refused by the API server. Without a StateDir nothing is projected.
func (k *Kubelet) syncProjected(ctx context.Context, pod *corev1.Pod, st *podState) (time.Duration, error) {
	dir := k.podDir(pod)
	if dir == "" {
		return 0, nil
	}
	if st.projected == nil {
		var vols []*projectedVolume
		for _, v := range pod.Spec.Volumes {
			if v.Projected == nil {
				continue
			}
			pv := &projectedVolume{name: v.Name, dir: filepath.Join(dir, "volumes", v.Name)}
			if err := k.writeProjected(ctx, pod, v.Projected, pv); err != nil {
				k.recorder.Eventf(pod, corev1.EventTypeWarning, "FailedMount", "MountVolume.SetUp failed for volume %q : %v", v.Name, err)
				return 0, fmt.Errorf("mounting projected volume %s of pod %s/%s: %w", v.Name, pod.Namespace, pod.Name, err)
			}
			vols = append(vols, pv)
		}
		k.mu.Lock()
		st.projected = vols
		k.mu.Unlock()
	}
	var next time.Duration
	now := time.Now()
	for _, pv := range st.projected {
		for i := range pv.tokens {
			t := &pv.tokens[i]
			if wait := t.refreshAt.Sub(now); wait > 0 {
				if next == 0 || wait < next {
					next = wait
				}
				continue
			}
			if err := k.writeToken(ctx, pod, pv, t); err != nil {
				return 0, err
			}
			if wait := t.refreshAt.Sub(now); next == 0 || wait < next {
				next = wait
			}
		}
	}
	return next, nil
}

// writeProjected writes every source of a projected volume into pv.dir:
// ServiceAccount tokens, ConfigMap keys (kube-root-ca.crt's ca.crt) and
// downward API fields. Secret sources and the alpha ones are not projected.
func (k *Kubelet) writeProjected(ctx context.Context, pod *corev1.Pod, vol *corev1.ProjectedVolumeSource, pv *projectedVolume) error {
	if err := os.MkdirAll(pv.dir, 0o755); err != nil {
		return fmt.Errorf("creating %s: %w", pv.dir, err)
	}
	for _, src := range vol.Sources {
		switch {
		case src.ServiceAccountToken != nil:
			t := projectedToken{src: src.ServiceAccountToken}
			if err := k.writeToken(ctx, pod, pv, &t); err != nil {
				return err
			}
			pv.tokens = append(pv.tokens, t)
		case src.ConfigMap != nil:
			cm, err := k.cs.CoreV1().ConfigMaps(pod.Namespace).Get(ctx, src.ConfigMap.Name, metav1.GetOptions{})
			if apierrors.IsNotFound(err) && src.ConfigMap.Optional != nil && *src.ConfigMap.Optional {
				continue
			}
			if err != nil {
				return fmt.Errorf("configmap %q: %w", src.ConfigMap.Name, err)
			}
			items := src.ConfigMap.Items
			if len(items) == 0 {
				for key := range cm.Data {
					items = append(items, corev1.KeyToPath{Key: key, Path: key})
				}
			}
			for _, it := range items {
				v, ok := cm.Data[it.Key]
				if !ok {
					return fmt.Errorf("configmap %q has no key %q", cm.Name, it.Key)
				}
				if err := writeAtomic(pv.dir, it.Path, []byte(v)); err != nil {
					return err
				}
			}
		case src.DownwardAPI != nil:
			for _, it := range src.DownwardAPI.Items {
				if it.FieldRef == nil {
					continue
				}
				var v string
				switch it.FieldRef.FieldPath {
				case "metadata.namespace":
					v = pod.Namespace
				case "metadata.name":
					v = pod.Name
				case "metadata.uid":
					v = string(pod.UID)
				default:
					continue
				}
				if err := writeAtomic(pv.dir, it.Path, []byte(v)); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// writeToken requests a token for the pod's ServiceAccount, bound to the
// pod, and writes it; t.refreshAt becomes 80 % of its life (24 h at most),
// when the kubelet's token manager replaces it.
func (k *Kubelet) writeToken(ctx context.Context, pod *corev1.Pod, pv *projectedVolume, t *projectedToken) error {
	sa := pod.Spec.ServiceAccountName
	if sa == "" {
		sa = "default"
	}
	req := &authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{
		ExpirationSeconds: t.src.ExpirationSeconds,
		BoundObjectRef:    &authenticationv1.BoundObjectReference{Kind: "Pod", APIVersion: "v1", Name: pod.Name, UID: pod.UID},
	}}
	if t.src.Audience != "" {
		req.Spec.Audiences = []string{t.src.Audience}
	}
	now := time.Now()
	tr, err := k.cs.CoreV1().ServiceAccounts(pod.Namespace).CreateToken(ctx, sa, req, metav1.CreateOptions{})
	if err != nil {
		return fmt.Errorf("requesting a token for service account %s/%s: %w", pod.Namespace, sa, err)
	}
	if err := writeAtomic(pv.dir, t.src.Path, []byte(tr.Status.Token)); err != nil {
		return err
	}
	life := tr.Status.ExpirationTimestamp.Sub(now)
	t.refreshAt = now.Add(min(life*8/10, tokenMaxAge))
	return nil
}

// writeAtomic writes a file of a projected volume by renaming a fresh one
// over it, as the kubelet's atomic writer swaps the whole volume: a reader
// sees the old token or the new one, never half of one.
func writeAtomic(dir, rel string, data []byte) error {
	clean := path.Clean("/" + rel)
	if clean == "/" || strings.Contains(rel, "..") {
		return fmt.Errorf("projected path %q is not a file inside the volume", rel)
	}
	name := filepath.Join(dir, filepath.FromSlash(clean))
	if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
		return fmt.Errorf("creating %s: %w", filepath.Dir(name), err)
	}
	tmp := name + ".tmp"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		return fmt.Errorf("writing %s: %w", tmp, err)
	}
	if err := os.Rename(tmp, name); err != nil {
		return fmt.Errorf("replacing %s: %w", name, err)
	}
	return nil
}

// serviceAccountDir is the host directory standing for what container c
// has mounted at ServiceAccountMountPath, or "" when it mounts nothing
// there (automountServiceAccountToken false): then the process has no
// credentials, as in a real pod.
func (st *podState) serviceAccountDir(c *corev1.Container) string {
	for _, m := range c.VolumeMounts {
		if strings.TrimSuffix(m.MountPath, "/") != ServiceAccountMountPath {
			continue
		}
		for _, pv := range st.projected {
			if pv.name == m.Name {
				return filepath.Join(pv.dir, m.SubPath)
			}
		}
	}
	return ""
}

// containerKubeconfig writes the kubeconfig a container's process uses: the
// node's proxy (so a partition of the node cuts it off), the cluster CA and
// the token of the pod's ServiceAccount as a tokenFile, which client-go
// re-reads as in-cluster config does, so it follows the kubelet's
// refreshes. Without a mounted token it carries no credentials: the
// process is anonymous.
func (k *Kubelet) containerKubeconfig(pod *corev1.Pod, container, saDir string) (string, error) {
	cfg := clientcmdapi.NewConfig()
	cluster := &clientcmdapi.Cluster{Server: k.cfg.RESTConfig.Host}
	if ca := filepath.Join(saDir, "ca.crt"); saDir != "" && fileExists(ca) {
		cluster.CertificateAuthority = ca
	} else {
		cluster.CertificateAuthorityData = k.cfg.RESTConfig.CAData
	}
	user := &clientcmdapi.AuthInfo{}
	if tok := filepath.Join(saDir, "token"); saDir != "" && fileExists(tok) {
		user.TokenFile = tok
	}
	cfg.Clusters["sim"] = cluster
	cfg.AuthInfos["pod"] = user
	cfg.Contexts["sim"] = &clientcmdapi.Context{Cluster: "sim", AuthInfo: "pod", Namespace: pod.Namespace}
	cfg.CurrentContext = "sim"
	name := filepath.Join(k.podDir(pod), container+".kubeconfig")
	if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
		return "", fmt.Errorf("creating %s: %w", filepath.Dir(name), err)
	}
	if err := clientcmd.WriteToFile(*cfg, name); err != nil {
		return "", fmt.Errorf("writing the kubeconfig of container %s of pod %s/%s: %w", container, pod.Namespace, pod.Name, err)
	}
	return name, nil
}

func fileExists(name string) bool {
	_, err := os.Stat(name)
	return err == nil
}
