#!/bin/sh
# MariaDB for the expense app, on the volume mounted at /var/lib/mysql.
#
# First start (an empty volume): create the system tables with
# mariadb-install-db and set the root password from MARIADB_ROOT_PASSWORD
# (a Secret) through an init file, as the official images do. Every start:
# hand the data dir to the mysql user and run mariadbd in the foreground
# (it drops root itself with --user=mysql), listening on every address of
# the pod. The app's database, tables and user are the schema Job's work.
# --log-warnings=1: at the default (2) every probe's bare TCP connect logs
# an "Aborted connection" warning, burying the lines that matter.
set -eu

DATADIR=/var/lib/mysql
: "${MARIADB_ROOT_PASSWORD:?MARIADB_ROOT_PASSWORD is not set: give it from a Secret}"

mkdir -p "$DATADIR" /run/mysqld
chown mysql:mysql "$DATADIR" /run/mysqld
chmod 0750 "$DATADIR"

set -- mariadbd --user=mysql --datadir="$DATADIR" --socket=/run/mysqld/mysqld.sock \
  --bind-address=0.0.0.0 --port=3306 \
  --skip-name-resolve \
  --log-warnings=1 \
  --innodb-buffer-pool-size="${MARIADB_INNODB_BUFFER_POOL_SIZE:-32M}" \
  "$@"

if [ ! -d "$DATADIR/mysql" ]; then
  echo "entrypoint: empty data directory $DATADIR: initializing"
  # Leftovers of a failed first start (no mysql/ yet) would make install-db fail half-way.
  find "$DATADIR" -mindepth 1 -maxdepth 1 ! -name lost+found -exec rm -rf {} +
  # --force: install-db would otherwise insist on resolving the pod's host name, which a pod need not.
  mariadb-install-db --user=mysql --datadir="$DATADIR" --auth-root-authentication-method=socket \
    --skip-test-db --skip-name-resolve --force >/dev/null
  init=/run/mysqld/init.sql
  # Single quotes in the password are doubled for the SQL string literal.
  pw=$(printf '%s' "$MARIADB_ROOT_PASSWORD" | sed "s/'/''/g")
  umask 077
  cat >"$init" <<SQL
ALTER USER 'root'@'localhost' IDENTIFIED VIA unix_socket OR mysql_native_password USING PASSWORD('$pw');
CREATE USER IF NOT EXISTS 'root'@'%' IDENTIFIED BY '$pw';
GRANT ALL PRIVILEGES ON *.* TO 'root'@'%' WITH GRANT OPTION;
FLUSH PRIVILEGES;
SQL
  chown mysql:mysql "$init"
  echo "entrypoint: data directory initialized; root password set on first start"
  set -- "$@" --init-file="$init"
fi

echo "entrypoint: starting $1"
exec "$@"
