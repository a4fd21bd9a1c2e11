-- Run once by the postgres image on an empty data directory (docker-entrypoint-initdb.d),
-- in the POSTGRES_DB database. Minimal on purpose: the migrations create everything else.
CREATE EXTENSION IF NOT EXISTS vector;
CREATE EXTENSION IF NOT EXISTS pgcrypto;
