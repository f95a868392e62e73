"""Cluster-wide objects a scenario plants: PodSecurityPolicies."""
from steplib import given

PSP_API = "policy/v1beta1"


def pod_security_policy(name, level):
    """A PSP in the shape of the Kubernetes docs' examples (restricted,
    baseline, privileged), told apart by how much they allow."""
    privileged = level == "privileged"
    return {
        "apiVersion": PSP_API, "kind": "PodSecurityPolicy",
        "metadata": {"name": name, "labels": {"governance.example.com/level": level},
                     "annotations": {"seccomp.security.alpha.kubernetes.io/allowedProfileNames":
                                     "*" if privileged else "docker/default,runtime/default"}},
        "spec": {
            "privileged": privileged,
            "allowPrivilegeEscalation": privileged,
            "requiredDropCapabilities": [] if privileged else ["ALL"],
            "volumes": ["*"] if privileged else ["configMap", "emptyDir", "projected", "secret",
                                                 "downwardAPI", "persistentVolumeClaim"],
            "hostNetwork": privileged, "hostIPC": privileged, "hostPID": privileged,
            "runAsUser": {"rule": "RunAsAny" if privileged else "MustRunAsNonRoot"},
            "seLinux": {"rule": "RunAsAny"},
            "supplementalGroups": {"rule": "RunAsAny" if privileged else "MustRunAs",
                                   **({} if privileged else {"ranges": [{"min": 1, "max": 65535}]})},
            "fsGroup": {"rule": "RunAsAny" if privileged else "MustRunAs",
                        **({} if privileged else {"ranges": [{"min": 1, "max": 65535}]})},
            "readOnlyRootFilesystem": level == "restricted",
        },
    }


@given('the pod security policies {names:Owns} exist on cluster "{cluster:Name}"')
def psps_exist(context, names, cluster):
    client = context.driver.cluster(cluster)
    assert client.serves(PSP_API, "PodSecurityPolicy"), (
        f"cluster {cluster} (Kubernetes {client.version()}) does not serve {PSP_API} PodSecurityPolicy")
    for name in names:
        level = next((lvl for lvl in ("privileged", "baseline", "restricted") if lvl in name), "restricted")
        client.apply(pod_security_policy(name, level))
