#!/usr/bin/env bash
# Compares `webguard proxy` with stunnel4 in front of the same plain-HTTP
# upstream (scripts/upstream: 20 KB per request on 127.0.0.1), and both with
# the direct baseline (the upstream itself serving TLS with a static
# crypto/tls config, no proxy). Three modes, all loaded by scripts/loadgen
# (HTTP/1.1, 4 concurrent clients, X25519 key exchange for every server):
#   tls-handshake   a new connection and full TLS 1.3 handshake per request
#   mtls-handshake  the same with a client certificate (RequireAndVerifyClientCert)
#   keepalive       requests over kept-alive TLS connections
# Each (mode, server) runs BENCH_ROUNDS times for BENCH_SECONDS, in rotating
# order; the table shows medians of req/s and of the serving process's CPU
# per request (for a proxy: the proxy process alone, from /proc/PID/stat).
#
# BENCH_PROFILE=DIR writes a CPU profile of each webguard proxy process to
# DIR/webguard-{tls,mtls}.cpu.pprof (the tls one serves the tls-handshake
# and keepalive modes): go tool pprof -top DIR/webguard-tls.cpu.pprof
#
# BENCH_MODES="keepalive" runs only the modes named; BENCH_PROXY_ENV="VAR=VALUE
# ..." adds to the environment of the webguard processes (e.g. GOGC=200).
#
# Usage: scripts/bench-proxy.sh    (BENCH_SECONDS=3 BENCH_ROUNDS=3 BENCH_WORKERS=4)
set -euo pipefail
cd "$(dirname "$0")/.."

secs=${BENCH_SECONDS:-3}
rounds=${BENCH_ROUNDS:-3}
workers=${BENCH_WORKERS:-4}
stunnel=$(command -v stunnel4 || true)
[ -n "$stunnel" ] || { echo "bench-proxy: stunnel4 not found (apt-get install stunnel4)" >&2; exit 1; }

tmp=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$tmp"
}
trap cleanup EXIT

go build -o "$tmp/bin/" ./cmd/webguard ./scripts/loadgen ./scripts/upstream
bin=$tmp/bin
# BENCH_WEBGUARD: another webguard binary to measure (e.g. one built with a
# proposed change via go build -overlay).
[ -z "${BENCH_WEBGUARD:-}" ] || cp "$BENCH_WEBGUARD" "$bin/webguard"
pki=$tmp/pki
mkdir -p "$pki"
"$bin/webguard" certs ca --out "$pki" >/dev/null 2>&1
"$bin/webguard" certs server --ca "$pki" --out "$pki" --host 127.0.0.1 >/dev/null 2>&1
"$bin/webguard" certs client --ca "$pki" --out "$pki" --cn scraper >/dev/null 2>&1

mapfile -t port < <("$bin/loadgen" ports 7)
up=${port[0]} direct_tls=${port[1]} direct_mtls=${port[2]}
wg_tls=${port[3]} wg_mtls=${port[4]} st_tls=${port[5]} st_mtls=${port[6]}

cat >"$tmp/tls.yml" <<EOF
tls_server_config:
  cert_file: $pki/server.crt
  key_file: $pki/server.key
EOF
cat >"$tmp/mtls.yml" <<EOF
tls_server_config:
  cert_file: $pki/server.crt
  key_file: $pki/server.key
  client_ca_file: $pki/ca.crt
  client_auth_type: RequireAndVerifyClientCert
EOF
for m in tls mtls; do
  p=$st_tls
  [ "$m" = mtls ] && p=$st_mtls
  {
    echo "foreground = yes"
    echo "pid ="
    echo "debug = 3"
    echo "[bench]"
    echo "accept = 127.0.0.1:$p"
    echo "connect = 127.0.0.1:$up"
    echo "cert = $pki/server.crt"
    echo "key = $pki/server.key"
    if [ "$m" = mtls ]; then
      echo "CAfile = $pki/ca.crt"
      echo "verifyChain = yes"
      echo "requireCert = yes"
    fi
  } >"$tmp/stunnel-$m.conf"
done

declare -A pid
start() { # name, command...
  local name=$1
  shift
  "$@" >"$tmp/$name.log" 2>&1 &
  pid[$name]=$!
  pids+=("$!")
}
start upstream "$bin/upstream" --plain "127.0.0.1:$up" --tls "127.0.0.1:$direct_tls" \
  --cert "$pki/server.crt" --key "$pki/server.key"
start upstream-mtls "$bin/upstream" --plain 127.0.0.1:0 --tls "127.0.0.1:$direct_mtls" \
  --cert "$pki/server.crt" --key "$pki/server.key" --client-ca "$pki/ca.crt"
profile() { # name: the environment of a webguard process
  [ -z "${BENCH_PROFILE:-}" ] || echo "WEBGUARD_PROXY_CPUPROFILE=$BENCH_PROFILE/$1.cpu.pprof"
  echo "${BENCH_PROXY_ENV:-}"
}
mkdir -p "${BENCH_PROFILE:-$tmp}"
start webguard-tls env $(profile webguard-tls) "$bin/webguard" proxy --web.config.file "$tmp/tls.yml" \
  --web.listen-address "127.0.0.1:$wg_tls" --upstream "http://127.0.0.1:$up" --log.level warn
start webguard-mtls env $(profile webguard-mtls) "$bin/webguard" proxy --web.config.file "$tmp/mtls.yml" \
  --web.listen-address "127.0.0.1:$wg_mtls" --upstream "http://127.0.0.1:$up" --log.level warn
start stunnel-tls "$stunnel" "$tmp/stunnel-tls.conf"
start stunnel-mtls "$stunnel" "$tmp/stunnel-mtls.conf"

for p in "$up" "$direct_tls" "$direct_mtls" "$wg_tls" "$wg_mtls" "$st_tls" "$st_mtls"; do
  for _ in $(seq 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null && break
    sleep 0.1
  done
  (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || {
    echo "bench-proxy: nothing listens on 127.0.0.1:$p; logs:" >&2
    tail -n 5 "$tmp"/*.log >&2
    exit 1
  }
done

# cpu_ticks PID: user + system CPU of a process, in clock ticks.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
hz=$(getconf CLK_TCK)

median() { sort -g | awk '{v[NR] = $1} END {if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }

# run MODE SERVER: one timed load, appending "req/s cpu-us/req" to a file.
run() {
  local mode=$1 server=$2 lgmode=handshake proc port cert=()
  case $mode in
  keepalive) lgmode=keepalive ;;
  esac
  case $mode/$server in
  mtls-*/direct) proc=upstream-mtls port=$direct_mtls ;;
  */direct) proc=upstream port=$direct_tls ;;
  mtls-*/webguard) proc=webguard-mtls port=$wg_mtls ;;
  */webguard) proc=webguard-tls port=$wg_tls ;;
  mtls-*/stunnel) proc=stunnel-mtls port=$st_mtls ;;
  */stunnel) proc=stunnel-tls port=$st_tls ;;
  esac
  [ "${mode%%-*}" = mtls ] && cert=(--cert "$pki/client.crt" --key "$pki/client.key")
  local before after out
  before=$(cpu_ticks "${pid[$proc]}")
  out=$("$bin/loadgen" --url "https://127.0.0.1:$port/metrics" --mode "$lgmode" --ca "$pki/ca.crt" \
    "${cert[@]}" --workers "$workers" --duration "${secs}s")
  after=$(cpu_ticks "${pid[$proc]}")
  # out: requests N errors E seconds S req/s R
  read -r _ n _ errors _ _ _ rps <<<"$out"
  if [ "$errors" != 0 ]; then
    echo "bench-proxy: $mode/$server: $errors of $n requests failed" >&2
    exit 1
  fi
  awk -v r="$rps" -v t=$((after - before)) -v hz="$hz" -v n="$n" \
    'BEGIN {printf "%s %.1f\n", r, t / hz * 1e6 / n}' >>"$tmp/result-$mode-$server"
  # Each measurement on stderr, for the record (and to see the noise).
  [ -n "${warm:-}" ] || echo "bench-proxy: $mode $server $(tail -n 1 "$tmp/result-$mode-$server") load $(cut -d' ' -f1 /proc/loadavg)" >&2
}

servers=(direct webguard stunnel)
read -r -a modes <<<"${BENCH_MODES:-tls-handshake mtls-handshake keepalive}"
for mode in "${modes[@]}"; do
  # Warm up every server of the mode briefly.
  for s in "${servers[@]}"; do warm=1 secs=0.3 run "$mode" "$s"; rm -f "$tmp/result-$mode-$s"; done
  for r in $(seq "$rounds"); do
    for i in 0 1 2; do
      run "$mode" "${servers[$(((i + r) % 3))]}"
    done
  done
done

echo "# webguard proxy vs stunnel4 ($("$stunnel" -version 2>&1 | awk '/^stunnel/ {print $2; exit}')), $(nproc) CPUs, $(go env GOVERSION), ${rounds}x${secs}s per cell, $workers clients"
printf '%-15s %10s %10s %10s %9s %9s %9s %10s %10s %10s\n' mode direct webguard stunnel "wg/dir" "st/dir" "wg/st" "dir-us/r" "wg-us/r" "st-us/r"
for mode in "${modes[@]}"; do
  declare -A rps cpu
  for s in "${servers[@]}"; do
    rps[$s]=$(awk '{print $1}' "$tmp/result-$mode-$s" | median)
    cpu[$s]=$(awk '{print $2}' "$tmp/result-$mode-$s" | median)
  done
  awk -v m="$mode" -v d="${rps[direct]}" -v w="${rps[webguard]}" -v s="${rps[stunnel]}" \
    -v cd="${cpu[direct]}" -v cw="${cpu[webguard]}" -v cs="${cpu[stunnel]}" \
    'BEGIN {printf "%-15s %10.0f %10.0f %10.0f %8.2fx %8.2fx %8.2fx %10.0f %10.0f %10.0f\n", m, d, w, s, w / d, s / d, w / s, cd, cw, cs}'
done
