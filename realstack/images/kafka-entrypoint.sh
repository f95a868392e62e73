#!/bin/sh
# The Kafka image's entrypoint (Kafka's jars from Maven Central on Debian's
# JRE): the environment contract of the bitnami/kafka image users name.
# Before the server runs (CMD /opt/bitnami/scripts/kafka/run.sh) it writes
# $KAFKA_CONF_FILE from every KAFKA_CFG_<NAME> variable (property
# name: NAME lower-cased, "_" as "."; log.dirs defaults to
# /bitnami/kafka/data) and, in KRaft mode (process.roles set), formats the
# log directories for the cluster KAFKA_KRAFT_CLUSTER_ID once (a formatted
# directory, a restored one too, keeps its own). Then the server replaces
# this script as the container's PID 1.
set -eu
conf=${KAFKA_CONF_FILE:-/opt/bitnami/kafka/config/server.properties}
if [ "$*" = /opt/bitnami/scripts/kafka/run.sh ]; then
    mkdir -p "$(dirname "$conf")"
    {
        echo "log.dirs=/bitnami/kafka/data"
        env | sed -n 's/^KAFKA_CFG_\([A-Za-z0-9_]*\)=.*/\1/p' | sort | while read -r name; do
            printf '%s=%s\n' "$(printf '%s' "$name" | tr 'A-Z_' 'a-z.')" "$(printenv "KAFKA_CFG_$name")"
        done
    } > "$conf"
    if grep -q '^process\.roles=.' "$conf"; then
        id=${KAFKA_KRAFT_CLUSTER_ID:-$(kafka-storage.sh random-uuid)}
        kafka-storage.sh format --config "$conf" --cluster-id "$id" --ignore-formatted > /dev/null
    elif ! grep -q '^zookeeper\.connect=.' "$conf"; then
        echo "kafka: set KAFKA_CFG_PROCESS_ROLES (KRaft) or KAFKA_CFG_ZOOKEEPER_CONNECT" >&2
        exit 1
    fi
fi
exec "$@"
