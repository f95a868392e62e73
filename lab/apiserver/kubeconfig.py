"""The kubeconfig file through which kubectl and the kubernetes client
reach a lab API server (plain HTTP, a token the lab does not check)."""
import yaml


def kubeconfig(server_url, context):
    return {
        "apiVersion": "v1", "kind": "Config", "preferences": {},
        "clusters": [{"name": context, "cluster": {"server": server_url}}],
        "users": [{"name": context, "user": {"token": "lab"}}],
        "contexts": [{"name": context, "context": {"cluster": context, "user": context}}],
        "current-context": context,
    }


def write_kubeconfig(path, server_url, context):
    """Write a one-context kubeconfig to `path`; returns the path."""
    with open(path, "w") as handle:
        yaml.safe_dump(kubeconfig(server_url, context), handle, sort_keys=False)
    return path
