#!/bin/sh
# The bitnami/kafka image's CMD: the server on the configuration the
# entrypoint wrote.
exec kafka-server-start.sh "${KAFKA_CONF_FILE:-/opt/bitnami/kafka/config/server.properties}"
