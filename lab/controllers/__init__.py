"""Built-in controllers of a lab cluster (what kube-controller-manager, the
scheduler, the kubelet and the OpenEBS provisioners do, in one pass each)."""
