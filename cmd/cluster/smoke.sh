#!/usr/bin/env bash
# Checks a running make cluster by hand's path, from outside: sign up
# through the first instance, upload an avatar through the second with
# that token, download it through the link (the public URL, the first
# instance). CI runs it against make cluster.
# Usage: cmd/cluster/smoke.sh [port-a] [port-b]
set -euo pipefail
a=http://127.0.0.1:${1:-8081} b=http://127.0.0.1:${2:-8082}
fail() { echo "cluster smoke: $*" >&2; exit 1; }
gql() { # gql <base> <token> <json body>
	curl -s -H 'Content-Type: application/json' ${2:+-H "Authorization: Bearer $2"} --data "$3" "$1/graphql"
}
# field <dotted.path>: that field of the JSON on stdin; fails (printing the
# JSON) when it is missing or null.
field() {
	node -e 'let s = ""; process.stdin.on("data", d => s += d).on("end", () => {
		const v = process.argv[1].split(".").reduce((o, k) => o == null ? o : o[k], JSON.parse(s));
		if (v == null) { console.error(s); process.exit(1) }
		console.log(v) })' "$1"
}

email="smoke-$(date +%s%N)@example.com"
token=$(gql "$a" "" "{\"query\":\"mutation(\$i: SignUpInput!) { signUp(input: \$i) { accessToken } }\",\"variables\":{\"i\":{\"email\":\"$email\",\"password\":\"smoke-password-1\",\"nickname\":\"스모크\"}}}" |
	field data.signUp.accessToken) || fail "sign-up through $a"
nick=$(gql "$b" "$token" '{"query":"{ viewer { nickname } }"}' | field data.viewer.nickname) || fail "the token from $a on $b"
[ "$nick" = "스모크" ] || fail "viewer on $b: got $nick"

tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
# a 1×1 PNG
printf '\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0\x1f\x15\xc4\x89\0\0\0\rIDATx\x9cc\xf8\xcf\xc0\xf0\x1f\0\x05\0\x01\xff\x89\x99=\x1d\0\0\0\0IEND\xaeB`\x82' >"$tmp/a.png"
url=$(curl -s -H "Authorization: Bearer $token" -H "Apollo-Require-Preflight: true" \
	-F operations='{"query":"mutation($f: Upload!) { uploadAvatar(file: $f) { avatarURL } }","variables":{"f":null}}' \
	-F map='{"0":["variables.f"]}' -F 0=@"$tmp/a.png" "$b/graphql" | field data.uploadAvatar.avatarURL) ||
	fail "avatar upload through $b"
curl -sf -o "$tmp/back.png" "$url" || fail "the avatar uploaded through $b, fetched from $url"
cmp -s "$tmp/a.png" "$tmp/back.png" || fail "the avatar came back different from $url"
echo "cluster smoke: signed up through $a, used the token on $b, uploaded through $b, downloaded from $url"
