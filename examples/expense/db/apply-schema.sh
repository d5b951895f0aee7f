#!/bin/sh
# Creates the expense app's database, tables and user, idempotently: run by
# the schema Job (k8s/db-schema-job.yaml) on every deploy, and safe to run
# again by hand. Waits for the database first (it may still be starting).
#
# Environment: DB_HOST (mysql), MARIADB_ROOT_PASSWORD, DB_NAME (expense),
# DB_USER (expense), DB_PASSWORD (the app user's password, from the Secret),
# WAIT_SECONDS (300).
set -eu
: "${MARIADB_ROOT_PASSWORD:?MARIADB_ROOT_PASSWORD is not set}"
: "${DB_PASSWORD:?DB_PASSWORD is not set}"
host=${DB_HOST:-mysql}
db=${DB_NAME:-expense}
user=${DB_USER:-expense}
wait=${WAIT_SECONDS:-300}

# The password goes in an option file, not on the command line (visible in ps).
cnf=$(mktemp)
trap 'rm -f "$cnf"' EXIT
printf '[client]\nhost=%s\nuser=root\npassword="%s"\nconnect-timeout=5\n' "$host" "$MARIADB_ROOT_PASSWORD" >"$cnf"
sql() { mariadb --defaults-extra-file="$cnf" --batch "$@"; }

start=$(date +%s)
until err=$(sql -e 'SELECT 1' 2>&1 >/dev/null); do
  if [ $(($(date +%s) - start)) -ge "$wait" ]; then
    echo "schema: the database at $host did not answer within ${wait}s: $err" >&2
    exit 1
  fi
  echo "schema: waiting for the database at $host: $err"
  sleep 2
done

pw=$(printf '%s' "$DB_PASSWORD" | sed "s/'/''/g")
sed "s/\bexpense\b/$db/g" /usr/local/share/expense/schema.sql | sql
sql <<SQL
CREATE USER IF NOT EXISTS '$user'@'%' IDENTIFIED BY '$pw';
ALTER USER '$user'@'%' IDENTIFIED BY '$pw';
GRANT SELECT, INSERT, UPDATE, DELETE ON \`$db\`.* TO '$user'@'%';
FLUSH PRIVILEGES;
SQL
echo "schema: database $db, its tables and user $user are in place"
sql -e "SHOW TABLES FROM \`$db\`"
