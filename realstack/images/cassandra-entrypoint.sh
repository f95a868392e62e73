#!/bin/sh
# The Cassandra image's entrypoint (Cassandra's jars from Maven Central on
# Debian's JRE): the environment contract of the official cassandra image.
# It writes /etc/cassandra/cassandra.yaml from CASSANDRA_CLUSTER_NAME,
# CASSANDRA_SEEDS (default: this node), CASSANDRA_LISTEN_ADDRESS and
# CASSANDRA_BROADCAST_ADDRESS (default: the pod's address),
# CASSANDRA_RPC_ADDRESS (default 0.0.0.0), CASSANDRA_NUM_TOKENS,
# CASSANDRA_ENDPOINT_SNITCH, CASSANDRA_DC and CASSANDRA_RACK; then the
# server replaces this script as the container's PID 1.
set -eu
if [ "${1#-}" != "$1" ]; then set -- cassandra -f "$@"; fi
if [ "$1" != cassandra ]; then exec "$@"; fi
own_address=$(hostname -i | cut -d' ' -f1)
listen=${CASSANDRA_LISTEN_ADDRESS:-auto}
if [ "$listen" = auto ]; then listen=$own_address; fi
broadcast=${CASSANDRA_BROADCAST_ADDRESS:-auto}
if [ "$broadcast" = auto ]; then broadcast=$listen; fi
rpc=${CASSANDRA_RPC_ADDRESS:-0.0.0.0}
broadcast_rpc=${CASSANDRA_BROADCAST_RPC_ADDRESS:-$broadcast}
quote() { printf "'%s'" "$(printf '%s' "$1" | sed "s/'/''/g")"; }
cat > /etc/cassandra/cassandra.yaml <<YAML
cluster_name: $(quote "${CASSANDRA_CLUSTER_NAME:-Test Cluster}")
num_tokens: ${CASSANDRA_NUM_TOKENS:-16}
allocate_tokens_for_local_replication_factor: 3
partitioner: org.apache.cassandra.dht.Murmur3Partitioner
data_file_directories: [/var/lib/cassandra/data]
commitlog_directory: /var/lib/cassandra/commitlog
saved_caches_directory: /var/lib/cassandra/saved_caches
hints_directory: /var/lib/cassandra/hints
commitlog_sync: periodic
commitlog_sync_period: 10000ms
seed_provider:
  - class_name: org.apache.cassandra.locator.SimpleSeedProvider
    parameters:
      - seeds: $(quote "${CASSANDRA_SEEDS:-$broadcast}")
listen_address: $listen
broadcast_address: $broadcast
rpc_address: $rpc
broadcast_rpc_address: $broadcast_rpc
endpoint_snitch: ${CASSANDRA_ENDPOINT_SNITCH:-SimpleSnitch}
YAML
if [ -n "${CASSANDRA_DC:-}${CASSANDRA_RACK:-}" ]; then
    printf 'dc=%s\nrack=%s\n' "${CASSANDRA_DC:-dc1}" "${CASSANDRA_RACK:-rack1}" > /etc/cassandra/cassandra-rackdc.properties
fi
mkdir -p /var/lib/cassandra
exec "$@"
