#!/bin/sh
# The MySQL-family image's entrypoint (MariaDB from Debian): the environment
# contract of the official mysql and percona images, so the catalogue's
# manifests run unchanged on either. On an empty data directory it
# initialises the server with MYSQL_ROOT_PASSWORD (required) and creates
# MYSQL_DATABASE and MYSQL_USER / MYSQL_PASSWORD when given; then the server
# replaces this script as the container's PID 1.
set -eu
if [ "${1#-}" != "$1" ]; then set -- mariadbd "$@"; fi
case "$1" in
    mariadbd|mysqld) ;;
    *) exec "$@" ;;
esac
datadir=/var/lib/mysql
mkdir -p /run/mysqld
chown mysql:mysql /run/mysqld "$datadir"
if [ ! -d "$datadir/mysql" ]; then
    if [ -z "${MYSQL_ROOT_PASSWORD:-}" ]; then
        echo "entrypoint: the data directory is empty and MYSQL_ROOT_PASSWORD is not set" >&2
        exit 1
    fi
    echo "entrypoint: initialising $datadir" >&2
    mariadb-install-db --user=mysql --datadir="$datadir" --skip-test-db \
        --auth-root-authentication-method=normal > /dev/null
    socket=/run/mysqld/init.sock
    mariadbd --user=mysql --datadir="$datadir" --skip-networking --socket="$socket" &
    server=$!
    tries=0
    until mariadb-admin --socket="$socket" ping > /dev/null 2>&1; do
        tries=$((tries + 1))
        if [ "$tries" -gt 120 ]; then echo "entrypoint: the server did not start in 60 s" >&2; exit 1; fi
        sleep 0.5
    done
    quote() { printf "'%s'" "$(printf '%s' "$1" | sed "s/'/''/g")"; }
    {
        echo "CREATE USER 'root'@'%' IDENTIFIED BY $(quote "$MYSQL_ROOT_PASSWORD");"
        echo "GRANT ALL ON *.* TO 'root'@'%' WITH GRANT OPTION;"
        echo "ALTER USER 'root'@'localhost' IDENTIFIED BY $(quote "$MYSQL_ROOT_PASSWORD");"
        if [ -n "${MYSQL_DATABASE:-}" ]; then
            echo "CREATE DATABASE IF NOT EXISTS \`$MYSQL_DATABASE\`;"
        fi
        if [ -n "${MYSQL_USER:-}" ] && [ -n "${MYSQL_PASSWORD:-}" ]; then
            echo "CREATE USER $(quote "$MYSQL_USER")@'%' IDENTIFIED BY $(quote "$MYSQL_PASSWORD");"
            if [ -n "${MYSQL_DATABASE:-}" ]; then
                echo "GRANT ALL ON \`$MYSQL_DATABASE\`.* TO $(quote "$MYSQL_USER")@'%';"
            fi
        fi
    } | mariadb --socket="$socket" -uroot
    mariadb-admin --socket="$socket" -uroot -p"$MYSQL_ROOT_PASSWORD" shutdown
    wait "$server"
fi
exec "$@" --user=mysql
