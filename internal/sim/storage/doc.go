// Package storage simulates a replicated CSI block store named like Longhorn
// (driver.longhorn.io) and a non-replicated node-local one (local-disk), as
// the external CSI sidecars would drive them: a provisioner (one PV per PVC,
// node-affine for local-disk, restores from VolumeSnapshots), an attacher
// that completes the VolumeAttachments the real attach/detach controller
// creates, a resizer (online expansion, as Longhorn >= 1.4) and a
// snapshotter (VolumeSnapshotContent, creationTime first, then readyToUse).
//
// The controllers talk to the cluster only through the API server. Each PV
// has a host directory standing for its block device; snapshots copy it and
// restores copy it back, so later tests can put data there.
package storage
