"""The certificates and keys one real-stack cluster needs, made locally.

A CA, the API server's serving certificate (for 127.0.0.1 and the in-cluster
service names), the service-account signing key pair and an admin client
certificate in system:masters. Everything is throw-away, so RSA 2048 and a
year's validity are enough.
"""
from __future__ import annotations

import datetime
import ipaddress
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID


def _key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _write_key(key, path: Path):
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                                       serialization.NoEncryption()))
    path.chmod(0o600)


def _cert(subject, issuer, public_key, signing_key, *, ca=False, sans=None, usage=None):
    now = datetime.datetime.now(datetime.timezone.utc)
    builder = (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer).public_key(public_key)
               .serial_number(x509.random_serial_number())
               .not_valid_before(now - datetime.timedelta(minutes=5))
               .not_valid_after(now + datetime.timedelta(days=365))
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    if ca:
        builder = builder.add_extension(x509.KeyUsage(True, False, False, False, False, True, True, False, False),
                                        critical=True)
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    if usage:
        builder = builder.add_extension(x509.ExtendedKeyUsage(usage), critical=False)
    return builder.sign(signing_key, hashes.SHA256())


def _name(cn, org=None):
    attrs = [x509.NameAttribute(NameOID.COMMON_NAME, cn)]
    if org:
        attrs.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, org))
    return x509.Name(attrs)


def make(pki: Path, service_ip: str, addresses: list[str], node: str) -> dict[str, Path]:
    """Write the cluster's PKI into `pki` -> the paths by role: the API
    server's serving certificate for `addresses` and the in-cluster names,
    an admin client (system:masters) and the node's kubelet client
    (system:node:<node> in system:nodes, as the Node authorizer wants)."""
    pki.mkdir(parents=True, exist_ok=True)
    paths = {n: pki / f for n, f in [("ca", "ca.crt"), ("ca_key", "ca.key"), ("server", "apiserver.crt"),
                                     ("server_key", "apiserver.key"), ("sa_key", "sa.key"), ("sa_pub", "sa.pub"),
                                     ("admin", "admin.crt"), ("admin_key", "admin.key"),
                                     ("node", "node.crt"), ("node_key", "node.key")]}
    ca_key = _key()
    ca = _cert(_name("realstack-ca"), _name("realstack-ca"), ca_key.public_key(), ca_key, ca=True)
    server_key = _key()
    sans = [x509.DNSName(n) for n in ("localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc",
                                      "kubernetes.default.svc.cluster.local")]
    sans += [x509.IPAddress(ipaddress.ip_address(a)) for a in ("127.0.0.1", service_ip, *addresses)]
    server = _cert(_name("kube-apiserver"), ca.subject, server_key.public_key(), ca_key, sans=sans,
                   usage=[ExtendedKeyUsageOID.SERVER_AUTH])
    admin_key, node_key, sa_key = _key(), _key(), _key()
    admin = _cert(_name("realstack-admin", "system:masters"), ca.subject, admin_key.public_key(), ca_key,
                  usage=[ExtendedKeyUsageOID.CLIENT_AUTH])
    node_cert = _cert(_name(f"system:node:{node}", "system:nodes"), ca.subject, node_key.public_key(), ca_key,
                      usage=[ExtendedKeyUsageOID.CLIENT_AUTH])
    for cert, path in ((ca, paths["ca"]), (server, paths["server"]), (admin, paths["admin"]),
                       (node_cert, paths["node"])):
        path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    for key, path in ((ca_key, paths["ca_key"]), (server_key, paths["server_key"]), (admin_key, paths["admin_key"]),
                      (node_key, paths["node_key"]), (sa_key, paths["sa_key"])):
        _write_key(key, path)
    paths["sa_pub"].write_bytes(sa_key.public_key().public_bytes(serialization.Encoding.PEM,
                                                                 serialization.PublicFormat.SubjectPublicKeyInfo))
    return paths


def kubeconfig(path: Path, name: str, server: str, paths: dict[str, Path], user: str = "admin") -> None:
    """A kubeconfig with one context named after the cluster (as the lab's),
    for the admin (default) or the node (user="node")."""
    import yaml
    path.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": name,
        "clusters": [{"name": name, "cluster": {"server": server, "certificate-authority": str(paths["ca"])}}],
        "users": [{"name": f"{name}-{user}", "user": {"client-certificate": str(paths[user]),
                                                       "client-key": str(paths[f"{user}_key"])}}],
        "contexts": [{"name": name, "context": {"cluster": name, "user": f"{name}-{user}"}}],
    }, sort_keys=False))
    path.chmod(0o600)
