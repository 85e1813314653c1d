#!/usr/bin/env bash
# make cluster: two chatty instances, on 127.0.0.1:8081 and 127.0.0.1:8082,
# sharing what README "Running several instances" says they must share:
# one JWT secret, one public URL, one MariaDB database, Redis and one S3
# bucket. For trying a cluster by hand; Ctrl-C stops it all.
#
# Defaults (override with the environment):
#   CLUSTER_DATABASE_URL  mysql://root@127.0.0.1:3306/chatty_cluster
#                         (created when missing, with the mariadb client)
#   CLUSTER_REDIS_URL     redis://127.0.0.1:6379/0
#   CLUSTER_STORAGE_URL   empty: an s3rver (npm, as in CI) on 127.0.0.1:14569
#                         with the bucket "chatty", data in data/cluster/s3;
#                         set it (and AWS_*) to use another S3 store
#   CLUSTER_PORTS         "8081 8082"
# The public URL is the first instance's (http://localhost:8081): links and
# the token issuer name it, as they would a load balancer; the other
# instance's origin is allowed, so the app works at either /app/.
# The JWT secret is made once and kept in data/cluster/jwt-secret, so
# sessions survive a restart.
set -euo pipefail
cd "$(dirname "$0")/../.."
go=${GO:-go}
db=${CLUSTER_DATABASE_URL:-mysql://root@127.0.0.1:3306/chatty_cluster}
redis=${CLUSTER_REDIS_URL:-redis://127.0.0.1:6379/0}
storage=${CLUSTER_STORAGE_URL:-}
read -r -a ports <<<"${CLUSTER_PORTS:-8081 8082}"
state=data/cluster
mkdir -p "$state"

pids=()
stop() {
	trap - EXIT INT TERM
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
}
trap stop EXIT
trap 'exit 130' INT TERM

fail() { echo "make cluster: $*" >&2; exit 1; }
wait_for() { # wait_for <what> <command...>
	local what=$1; shift
	for _ in $(seq 1 100); do "$@" >/dev/null 2>&1 && return 0; sleep 0.2; done
	fail "$what did not come up"
}

$go build -o bin/chatty ./cmd/chatty

# The database: created when it is the MariaDB on this machine and missing.
if [[ $db =~ ^mysql://([^:@/]+)(:([^@/]*))?@([^:/]+):([0-9]+)/([A-Za-z0-9_]+)$ ]]; then
	if command -v mariadb >/dev/null 2>&1; then
		args=(-u"${BASH_REMATCH[1]}" -h"${BASH_REMATCH[4]}" -P"${BASH_REMATCH[5]}")
		[ -z "${BASH_REMATCH[3]}" ] || args+=(-p"${BASH_REMATCH[3]}")
		mariadb "${args[@]}" -e "CREATE DATABASE IF NOT EXISTS \`${BASH_REMATCH[6]}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin" ||
			fail "could not create the database of $db (is MariaDB running?)"
	fi
else
	echo "make cluster: using $db as it is (create it first if it does not exist)"
fi
command -v redis-cli >/dev/null 2>&1 && { redis-cli -u "$redis" ping >/dev/null || fail "Redis does not answer at $redis"; }

# The S3 store: an s3rver of our own unless one was named.
if [ -z "$storage" ]; then
	s3_port=14569
	if [ ! -x .ci/s3rver/node_modules/.bin/s3rver ]; then
		command -v npm >/dev/null 2>&1 || fail "npm is needed for the S3 server (or set CLUSTER_STORAGE_URL)"
		(cd .ci/s3rver && npm ci --no-audit --no-fund --silent)
	fi
	mkdir -p "$state/s3"
	.ci/s3rver/node_modules/.bin/s3rver -d "$state/s3" -a 127.0.0.1 -p $s3_port -s --configure-bucket chatty \
		>"$state/s3rver.log" 2>&1 &
	pids+=($!)
	wait_for "s3rver (log: $state/s3rver.log)" curl -sf -o /dev/null "http://127.0.0.1:$s3_port/chatty"
	storage="s3://chatty?endpoint=http://127.0.0.1:$s3_port&region=us-east-1"
	export AWS_ACCESS_KEY_ID=S3RVER AWS_SECRET_ACCESS_KEY=S3RVER
fi

if [ ! -s "$state/jwt-secret" ]; then
	(umask 077; head -c 48 /dev/urandom | base64 | tr -d '\n' >"$state/jwt-secret")
fi
public="http://localhost:${ports[0]}"
origins=
for port in "${ports[@]}"; do origins+="${origins:+,}http://localhost:$port,http://127.0.0.1:$port"; done

for port in "${ports[@]}"; do
	CHATTY_ADDR="127.0.0.1:$port" CHATTY_DATABASE_URL="$db" CHATTY_REDIS_URL="$redis" \
		CHATTY_STORAGE_URL="$storage" CHATTY_PUBLIC_URL="$public" CHATTY_ALLOWED_ORIGINS="$origins" \
		CHATTY_JWT_SECRET="$(cat "$state/jwt-secret")" \
		./bin/chatty > >(sed -u "s/^/[$port] /") 2>&1 &
	pids+=($!)
done
for port in "${ports[@]}"; do
	wait_for "chatty on $port" curl -sf -o /dev/null "http://127.0.0.1:$port/readyz"
done

cat <<EOF

chatty cluster is up: ${#ports[@]} instances sharing
  database  $db
  Redis     $redis
  storage   $storage
  public    $public (tokens and links from either instance work on both)
$(for port in "${ports[@]}"; do echo "  http://localhost:$port/  GraphiQL   http://localhost:$port/app/  the app"; done)
Ctrl-C stops them.
EOF
# Stop everything when any one of them stops.
wait -n "${pids[@]}" || true
fail "a process of the cluster stopped; stopping the others"
