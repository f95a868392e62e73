"""The real stack: real etcd, kube-apiserver, kube-controller-manager and Velero
built from their Go modules (realstack/), started as local processes
(`dmaas realstack build|up|status|down`)."""
