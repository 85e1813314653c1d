#!/bin/sh
# make bench / make bench-full: build chatty and chatbench, start chatty on
# a fresh SQLite database in a temporary directory on a free loopback port
# (and then on a fresh MariaDB database when CHATTY_TEST_MYSQL_DSN is set),
# run chatbench against it with the raw baseline, print the table, stop
# chatty. Usage: cmd/chatbench/run.sh short|full [out-dir]; BENCH_FLAGS
# adds chatbench flags (e.g. BENCH_FLAGS='-scenarios fanout').
set -eu
profile=${1:-short}
out=${2:-bench-out}
go=${GO:-go}
$go build -o bin/chatty ./cmd/chatty
$go build -o bin/chatbench ./cmd/chatbench
tmp=$(mktemp -d)
pid=
cleanup() {
	if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
	rm -rf "$tmp"
}
trap cleanup EXIT INT TERM
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

# bench NAME DATABASE_URL [CHATBENCH FLAGS]: one chatty, one chatbench run.
bench() {
	name=$1 db=$2
	shift 2
	mkdir -p "$tmp/$name/uploads"
	addr=$(./bin/chatbench -free-port)
	CHATTY_ADDR="$addr" CHATTY_DATABASE_URL="$db" CHATTY_UPLOAD_DIR="$tmp/$name/uploads" \
		CHATTY_JWT_SECRET=chatbench-secret-chatbench-secret-0123 CHATTY_LOG_LEVEL=warn \
		CHATTY_PUBLIC_URL="http://$addr" CHATTY_REDIS_URL= \
		./bin/chatty 2>"$tmp/$name/chatty.log" &
	pid=$!
	echo "== chatty on $name at $addr (pid $pid), profile $profile"
	./bin/chatbench -url "http://$addr" -pid "$pid" -profile "$profile" -baseline raw \
		-raw-dsn "$db" -out "$out/$name" "$@" ${BENCH_FLAGS:-} || status=$?
	kill "$pid"; wait "$pid" 2>/dev/null || true
	pid=
	if grep -q '"level":"ERROR"' "$tmp/$name/chatty.log"; then
		echo "chatty logged errors:"; grep '"level":"ERROR"' "$tmp/$name/chatty.log" | head -n 5
	fi
	cp "$tmp/$name/chatty.log" "$out/$name/chatty.log" 2>/dev/null || true
}

status=0
bench sqlite "sqlite:$tmp/chatty.db"
if [ -n "${CHATTY_TEST_MYSQL_DSN:-}" ]; then
	db=$(./bin/chatbench -create-mysql-db "$CHATTY_TEST_MYSQL_DSN")
	# The database server's CPU per send, when it runs on this machine.
	dbpid=$(pidof mariadbd || pidof mysqld || true)
	bench mariadb "$db" ${dbpid:+-db-pid "${dbpid%% *}"}
	./bin/chatbench -drop-mysql-db "$db" || true
fi
exit $status
