"""A bucket's endpoint options (CA bundle, insecure TLS, checksum algorithm,
path-style): schema-checked, given to the BSL as the AWS plugin reads them
and to both clients, here against an https endpoint with a CA of its own
(the lab's S3 behind a TLS terminator)."""
import base64
import socket
import ssl
import threading

import pytest

from runner.dmaas.locations import Location, bsl_spec
from runner.driver.buckets import Bucket
from runner.targets import BucketOptions, BucketProfile


def profile(endpoint, client="boto3", **options):
    return BucketProfile(name="minio", client=client, endpoint=endpoint, region="us-east-1", bucket="dmaas-minio",
                         access_key="a", secret_key="s", options=BucketOptions(**options))


def test_the_bsl_carries_the_options_as_the_aws_plugin_reads_them(tmp_path):
    ca = tmp_path / "ca.pem"
    ca.write_bytes(b"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n")
    location = Location("loc", "minio", "dmaas-minio", "root/loc")
    spec = bsl_spec(location, profile("https://minio.internal:9000", ca_bundle=str(ca), checksum_algorithm="",
                                      path_style=True), default=False)
    assert base64.b64decode(spec["objectStorage"]["caCert"]) == ca.read_bytes()
    assert spec["config"] == {"region": "us-east-1", "s3Url": "https://minio.internal:9000",
                              "s3ForcePathStyle": "true", "checksumAlgorithm": ""}
    spec = bsl_spec(location, profile("https://s3.amazonaws.com", insecure_skip_tls_verify=True, path_style=False),
                    default=False)
    assert "caCert" not in spec["objectStorage"]
    assert spec["config"] == {"region": "us-east-1", "s3Url": "https://s3.amazonaws.com",
                              "s3ForcePathStyle": "false", "insecureSkipTLSVerify": "true"}
    assert bsl_spec(location, profile("http://127.0.0.1:9"), default=True)["config"] == {
        "region": "us-east-1", "s3Url": "http://127.0.0.1:9", "s3ForcePathStyle": "true"}


def _pump(source, sink):
    try:
        while data := source.recv(65536):
            sink.sendall(data)
    except OSError:
        pass
    finally:
        for end in (source, sink):
            try:
                end.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def _relay(inside, port):
    outside = socket.create_connection(("127.0.0.1", port))
    threading.Thread(target=_pump, args=(inside, outside), daemon=True).start()
    threading.Thread(target=_pump, args=(outside, inside), daemon=True).start()


@pytest.fixture(scope="module")
def https_s3(lab, tmp_path_factory):
    """The lab's minio endpoint behind TLS with a certificate of a CA of its own; (endpoint, CA file, keys)."""
    from runner.realstack import pki
    paths = pki.make(tmp_path_factory.mktemp("pki"), "10.96.0.1", ["127.0.0.1"], "test-node")
    backend = lab.handle.state["s3"]["minio"]
    port = backend["endpoint"].rsplit(":", 1)[1]
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(str(paths["server"]), str(paths["server_key"]))
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)

    def serve():
        while True:
            try:
                raw, _ = listener.accept()
            except OSError:
                return
            try:
                tls = context.wrap_socket(raw, server_side=True)
            except (ssl.SSLError, OSError):
                raw.close()           # a client that does not trust the certificate
                continue
            _relay(tls, int(port))        # to the plain endpoint

    threading.Thread(target=serve, daemon=True).start()
    yield f"https://127.0.0.1:{listener.getsockname()[1]}", str(paths["ca"]), backend
    listener.close()


@pytest.mark.parametrize("client", ["boto3", "minio"])
def test_both_clients_reach_an_endpoint_with_its_own_ca_only_when_told(https_s3, client):
    endpoint, ca, keys = https_s3

    def bucket(**options):
        return Bucket(BucketProfile(name="minio", client=client, endpoint=endpoint, region="us-east-1",
                                    bucket=f"tls-{client}", access_key=keys["access_key"],
                                    secret_key=keys["secret_key"], options=BucketOptions(**options)))
    assert not bucket().reachable()                       # the system's CAs do not know it
    trusted = bucket(ca_bundle=ca, checksum_algorithm="")
    trusted.ensure()
    trusted.put("k", b"v")
    assert trusted.get("k") == b"v" and trusted.reachable()
    assert bucket(insecure_skip_tls_verify=True).get("k") == b"v"
    if client == "boto3":
        assert bucket(ca_bundle=ca, checksum_algorithm="SHA256").put("k2", b"w") is None
    trusted.delete_prefix("k")
