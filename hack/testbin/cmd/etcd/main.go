// Command etcd is upstream etcd at the version k8s.io/kubernetes pins. Debian's etcd 3.4 is
// too old: client-go's watch-list needs RequestWatchProgress from etcd >= 3.5.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}
