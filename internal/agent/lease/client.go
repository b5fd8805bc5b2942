package lease

import (
	"errors"
	"fmt"
	"net"
	"time"

	coordinationclient "k8s.io/client-go/kubernetes/typed/coordination/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/util/connrotation"
)

// NewClient returns a client for the fencing Lease alone, on connections of
// its own, and the function that drops them all (Config.CloseConnections).
//
// client-go multiplexes every request over one HTTP/2 connection; once that
// connection dies without a reset (a cut link, a NAT entry gone), every
// request on it hangs until TCP gives up, minutes later, and a renewal retried
// on it hangs like the one before. The kubelet has the same problem with its
// node heartbeat and solves it this way: a dialer that tracks its
// connections, closed when a heartbeat fails, so the retry dials afresh.
// Sharing the connections with other clients would let them keep the dead
// one alive, and closing them would cut those clients' watches too.
func NewClient(cfg *rest.Config) (coordinationclient.LeasesGetter, func(), error) {
	if cfg.Transport != nil {
		return nil, nil, errors.New("the fencing Lease's client needs a dialer of its own: a rest.Config with a Transport cannot have one")
	}
	cfg = rest.CopyConfig(cfg)
	dial := cfg.Dial
	if dial == nil {
		// client-go's own default.
		dial = (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext
	}
	d := connrotation.NewDialer(dial)
	cfg.Dial = d.DialContext
	// Hold paces its own attempts; a token bucket, let alone one shared
	// with other clients, would only hold back the renewal that ends an
	// outage.
	cfg.QPS, cfg.RateLimiter = -1, nil
	c, err := coordinationclient.NewForConfig(cfg)
	if err != nil {
		return nil, nil, fmt.Errorf("creating the fencing Lease's client: %w", err)
	}
	return c, d.CloseAll, nil
}
