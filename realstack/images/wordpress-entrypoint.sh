#!/bin/sh
# The WordPress image's entrypoint (Debian's WordPress on Apache with
# mod_php): the environment contract of the official wordpress:*-apache
# image. On a volume without WordPress it copies WordPress in and writes
# wp-config.php from WORDPRESS_DB_HOST, WORDPRESS_DB_USER,
# WORDPRESS_DB_PASSWORD and WORDPRESS_DB_NAME with keys and salts of its
# own; then Apache replaces this script as the container's PID 1.
set -eu
if [ "$1" != apache2-foreground ]; then exec "$@"; fi
root=/var/www/html
if [ ! -e "$root/wp-includes/version.php" ]; then
    echo "entrypoint: copying WordPress into $root" >&2
    # Debian's tree links into /usr/share/javascript and /var/lib/wordpress: copy what they point at
    cp -RL /usr/share/wordpress/. "$root/"
    rm -f "$root/wp-config.php"
fi
if [ ! -e "$root/wp-config.php" ]; then
    php_quote() { printf "'%s'" "$(printf '%s' "$1" | sed "s/[\\\\']/\\\\&/g")"; }
    salt() { head -c 48 /dev/urandom | base64 | tr -d '\n'; }
    {
        echo "<?php"
        echo "define('DB_NAME', $(php_quote "${WORDPRESS_DB_NAME:-wordpress}"));"
        echo "define('DB_USER', $(php_quote "${WORDPRESS_DB_USER:-example username}"));"
        echo "define('DB_PASSWORD', $(php_quote "${WORDPRESS_DB_PASSWORD:-}"));"
        echo "define('DB_HOST', $(php_quote "${WORDPRESS_DB_HOST:-mysql}"));"
        echo "define('DB_CHARSET', 'utf8mb4');"
        echo "define('DB_COLLATE', '');"
        for key in AUTH_KEY SECURE_AUTH_KEY LOGGED_IN_KEY NONCE_KEY AUTH_SALT SECURE_AUTH_SALT LOGGED_IN_SALT NONCE_SALT; do
            echo "define('$key', '$(salt)');"
        done
        echo "\$table_prefix = 'wp_';"
        echo "if (!defined('ABSPATH')) { define('ABSPATH', __DIR__ . '/'); }"
        echo "require_once ABSPATH . 'wp-settings.php';"
    } > "$root/wp-config.php"
fi
chown -R www-data:www-data "$root"
set +u                      # envvars reads variables it may not find set
. /etc/apache2/envvars
mkdir -p "$APACHE_RUN_DIR" "$APACHE_LOCK_DIR" "$APACHE_LOG_DIR"
exec apache2 -DFOREGROUND
