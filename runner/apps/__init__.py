"""The applications a scenario runs: the catalogue (catalogue.py +
manifests/), their data shapes (shapes.py) and the probes that write and
read that data through pod exec (probes.py).

    install(driver, cluster, app, namespace, engine, replicas=None) -> DataProbe
"""


def install(driver, cluster, app, namespace, engine, replicas=None):
    """Catalogue application `app` in `namespace` of `cluster`, its claims on
    `engine`'s StorageClass (Driver.storage_class); returns its
    probe (the caller waits for it to be ready)."""
    from runner.apps import catalogue
    from runner.apps.probes import DataProbe
    client = driver.cluster(cluster)
    storage = driver.engine(engine)
    driver.storage_class(cluster, storage)
    client.ensure_namespace(namespace)
    for manifest in catalogue.get(app).manifests(namespace, storage.storage_class, replicas=replicas):
        client.apply(manifest)
    return DataProbe(client, namespace, app)
