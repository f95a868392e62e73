"""Clusters, backup locations, faults and the passing of time."""
from runner import versions
from runner.dmaas.locations import Location
from steplib import given, step, when
from scenario_time import pass_time


@given('a cluster "{name:Name}"')
def a_cluster(context, name):
    context.driver.ensure_cluster(name)


@given('a cluster "{name:Name}" at Kubernetes {version} with DMaaS {dmaas_version}')
def a_cluster_at_versions(context, name, version, dmaas_version):
    """Versions as runner/versions.py reads them: a release (1.29.4, whatever
    vendor suffix the server adds), a minor (1.29) or a minimum (1.29 or later)."""
    cluster = context.driver.ensure_cluster(name, version=version, velero_version=dmaas_version)
    found = cluster.version()
    assert versions.matches(found, version), (f"cluster {name}: expected Kubernetes {versions.describe(version)}, "
                                              f"the server says {found}")


@step('a new cluster "{name:Name}" is created')
def a_new_cluster(context, name):
    """A cluster that did not exist before the step (a real target's clusters
    are a fixed set of contexts: skipped there)."""
    context.driver.create_cluster(name)


@when('cluster "{name:Name}" is destroyed')
def cluster_destroyed(context, name):
    """The cluster and all on it are gone; its backups stay in the buckets."""
    context.driver.destroy_cluster(name)


@when('cluster "{name:Name}" is cut off')
def cluster_cut(context, name):
    """Its API refuses connections until the scenario's cleanup reconnects it."""
    context.driver.cut_cluster(name)


@when('the "{profile:Name}" bucket is cut off')
def bucket_cut(context, profile):
    """Its S3 endpoint refuses connections until the scenario's cleanup reconnects it."""
    context.driver.cut_bucket(profile)


def add_location(context, profile, clusters, name=None, prefix=None):
    """The location on each cluster (named after the bucket profile unless
    given a name, as the target names what the scenario makes); the steps
    remember where its objects live as the scenario gave it (its own bucket
    and <scenario root>/<prefix or name>), not as the DMaaS layer says, so
    oracles look there."""
    name = name or context.driver.own(profile)
    state = context.scenario_state
    for cluster in clusters:
        context.driver.cluster(cluster)
        state.dmaas.add_location(cluster, name, profile, prefix=prefix)
        state.locations.setdefault(cluster, {})[name] = Location(
            name, profile, context.driver.bucket_profile(profile).bucket,
            f"{context.driver.scenario_root}/{(prefix or name).strip('/')}")


@step('the "{profile:Name}" bucket is a backup location on cluster "{cluster:Name}"')
def bucket_location_one(context, profile, cluster):
    add_location(context, profile, [cluster])


@step('the "{profile:Name}" bucket is a backup location on clusters {clusters:Names}')
def bucket_location_many(context, profile, clusters):
    add_location(context, profile, clusters)


@step('the "{profile:Name}" bucket with prefix "{prefix:Name}" is a backup location named "{name:Own}" '
      'on clusters {clusters:Names}')
def bucket_location_named(context, profile, prefix, name, clusters):
    add_location(context, profile, clusters, name=name, prefix=prefix)


@step("{duration:Duration} pass")
def time_passes(context, duration):
    pass_time(context, duration)


@when("{duration:Duration} pass while the applications write data every hour")
def time_passes_writing_hourly(context, duration):
    pass_time(context, duration, write_every=3600)


@when("{duration:Duration} pass while the applications write data every {interval:Duration}")
def time_passes_writing(context, duration, interval):
    pass_time(context, duration, write_every=interval)


@when('{duration:Duration} pass while the applications on cluster "{cluster:Name}" write data every hour')
def time_passes_writing_on(context, duration, cluster):
    pass_time(context, duration, write_every=3600, clusters={cluster})
