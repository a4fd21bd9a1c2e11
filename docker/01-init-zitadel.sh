#!/bin/sh
# Run once by the postgres image on an empty data directory (docker-entrypoint-initdb.d),
# before init.sql: Zitadel's own login role and database, from ZITADEL_DB_USER,
# ZITADEL_DB_PASSWORD and ZITADEL_DB_NAME (set in docker-compose.yml from docker/.env).
# POSIX sh, so it also runs in images without bash. Values reach SQL as psql variables
# (:"ident" and :'literal'), so they are quoted by psql, never spliced into the text.
set -e  # no -u: the official entrypoint sources (not runs) scripts that lost their x bit

: "${ZITADEL_DB_PASSWORD:?ZITADEL_DB_PASSWORD is required}"

psql -v ON_ERROR_STOP=1 --no-psqlrc --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
  -v zuser="${ZITADEL_DB_USER:-zitadel}" -v zpass="$ZITADEL_DB_PASSWORD" \
  -v zdb="${ZITADEL_DB_NAME:-zitadel}" <<'SQL'
SELECT NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :'zuser') AS create_role \gset
\if :create_role
  CREATE ROLE :"zuser" LOGIN PASSWORD :'zpass';
\endif
SELECT NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = :'zdb') AS create_db \gset
\if :create_db
  CREATE DATABASE :"zdb" OWNER :"zuser";
\endif
GRANT CONNECT, CREATE, TEMPORARY ON DATABASE :"zdb" TO :"zuser";
SQL
