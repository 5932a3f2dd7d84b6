#!/usr/bin/env bash
# Load benchmark: the origin directly, nginx as a reverse proxy, and Portcullis, over plain HTTP
# and TLS; GET of a 1 KB JSON body with 50 keep-alive connections (wrk). Then the RSS of each
# proxy with 1,000 idle keep-alive connections.
#
#   bench/run.sh                 # full run: 3 interleaved rounds of 10 s (about 5 minutes)
#   DURATION=5s ROUNDS=5 bench/run.sh   # shorter runs, more rounds
#   bench/run.sh instructions    # user-space instructions per proxied request (valgrind),
#                                # repeatable to ~0.3% where wall-clock numbers move by 10%
#   bench/run.sh auth            # Portcullis only: plain proxying vs JWT (RS256, ES256, cache
#                                # warm) vs API key, in the same run, as ratios
#   bench/run.sh auth instructions   # the same four, as instructions per request
#   bench/run.sh ratelimit       # plain vs one rate limit per request, embedded and Redis
#   bench/run.sh openapi         # POST of a 1 KB JSON order: plain proxying vs the same route
#                                # validated by an OpenAPI spec (request and response)
#   bench/run.sh openapi instructions   # the same two, as instructions per request
#   bench/run.sh waf             # OWASP CRS 4 (PORTCULLIS_CRS, default ../shared/crs): CPU per
#                                # transaction, Portcullis vs libmodsecurity 3 (same rules, same
#                                # requests, PL1 and PL4); then plain proxying vs CRS PL1
#   bench/run.sh waf instructions   # plain vs CRS PL1, as instructions per request
#
# Pinning on a 2-core machine: the proxy under test (nginx with 1 worker, or Portcullis with 1
# worker thread) gets CPU 0 to itself; the origin (an nginx serving a static file) and wrk share
# CPU 1. Both proxies keep pooled keep-alive connections to the origin and write an access log
# to a file. Results go to bench/results/ and a Markdown table is printed.
# "load CPU busy" is how busy CPU 1 was: near 100%, wrk and the origin, not the proxy, set the
# pace, and requests/s compare how well each proxy keeps a saturated client fed.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh bench
cargo build --release --locked -q

DURATION=${DURATION:-10s}
CONNS=${CONNS:-50}
PROXY_CPU=${PROXY_CPU:-0}
LOAD_CPU=${LOAD_CPU:-1}
ORIGIN_PORT=18081 NGINX_PORT=18082 NGINX_TLS_PORT=18443 PC_PORT=18083 PC_TLS_PORT=18444
work=$(mktemp -d /tmp/portcullis-bench.XXXXXX)
out=bench/results
mkdir -p "$out" "$work/tls" "$work/logs"
chmod 755 "$work" "$work/logs"; chmod 777 "$work/logs"   # nginx workers run unprivileged
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; sleep 0.3; }
trap cleanup EXIT

# 1 KB JSON body.
python3 - "$work/data.json" <<'PY'
import sys
p = sys.argv[1]
body = '{"data":"' + "a" * 1013 + '"}'
assert len(body) == 1024
open(p, "w").write(body)
PY

# A throwaway certificate for both proxies.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=localhost \
  -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" \
  -keyout "$work/tls/key.pem" -out "$work/tls/cert.pem" 2>/dev/null

cat > "$work/origin.conf" <<EOF
daemon off; worker_processes 1; pid $work/origin.pid; error_log $work/logs/origin-error.log;
events { worker_connections 4096; }
http {
  access_log off; keepalive_requests 1000000;
  server {
    listen 127.0.0.1:$ORIGIN_PORT; root $work;
    location / { default_type application/json; }
    location = /orders {
      default_type application/json;
      return 200 '{"customer":{"id":"3fa85f64-5717-4562-b3fc-2c963f66afa6","email":"ann@example.com"},"items":[]}';
    }
  }
}
EOF

cat > "$work/nginx.conf" <<EOF
daemon off; worker_processes 1; pid $work/nginx.pid; error_log $work/logs/nginx-error.log;
events { worker_connections 8192; }
http {
  access_log $work/logs/nginx-access.log combined buffer=64k flush=1s;
  keepalive_requests 1000000;
  upstream origin { server 127.0.0.1:$ORIGIN_PORT; keepalive 64; }
  server {
    listen 127.0.0.1:$NGINX_PORT;
    listen 127.0.0.1:$NGINX_TLS_PORT ssl http2;
    ssl_certificate $work/tls/cert.pem; ssl_certificate_key $work/tls/key.pem;
    ssl_protocols TLSv1.2 TLSv1.3;
    location / {
      proxy_pass http://origin; proxy_http_version 1.1; proxy_set_header Connection "";
      proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;
      proxy_hide_header Server; add_header Strict-Transport-Security "max-age=31536000" always;
      add_header X-Content-Type-Options nosniff always;
    }
  }
}
EOF

# A Portcullis config for the benchmark: port, extra top-level YAML (e.g. a TLS listener line
# or a state backend), extra route lines.
gateway_config() {
  cat <<EOF
listeners:
  - { name: http, bind: "127.0.0.1:$1" }
$2
limits: { max_connections: 20000, max_connections_per_ip: 20000 }
access_log: { path: logs/portcullis-access-$1.log }
upstreams:
  origin: { targets: ["http://127.0.0.1:$ORIGIN_PORT"], max_idle_per_target: 128 }
apis:
  - name: bench
    upstream: origin
    public: true
    routes:
      - { path: /data.json, methods: [GET] }
$3
EOF
}
gateway_config "$PC_PORT" \
  "  - { name: https, bind: \"127.0.0.1:$PC_TLS_PORT\", tls: { cert: tls/cert.pem, key: tls/key.pem } }" \
  "" > "$work/portcullis.yaml"

# User-space instructions per request (valgrind): total for 3,000 requests minus total for 1,000,
# over 2,000, so start-up cancels out. Args: config, path, extra header line (or "").
instructions() {
  local config=$1 path=$2 header=$3 n pc extra=()
  [ -n "$header" ] && extra=("$header")
  declare -A total
  for n in 1000 3000; do
    PORTCULLIS_LOG=warn valgrind --tool=callgrind --callgrind-out-file="$work/cg.$n" \
      target/release/portcullis serve --workers 1 --config "$config" 2>/dev/null & pc=$!
    # Loading CRS under valgrind takes a minute.
    for _ in $(seq 900); do (echo >/dev/tcp/127.0.0.1/$PC_PORT) 2>/dev/null && break; sleep 0.2; done
    python3 bench/keepalive_load.py "$PC_PORT" "$n" "$path" "${extra[@]}" >/dev/null
    kill -TERM "$pc"; wait "$pc" 2>/dev/null || true
    total[$n]=$(awk '/^(summary|totals):/ {print $2; exit}' "$work/cg.$n")
  done
  echo $(( (total[3000] - total[1000]) / 2000 ))
}

# Starts Portcullis (1 worker, pinned) on CONFIG and waits for PORT (default $PC_PORT);
# sets served_pid.
serve() {
  local port=${2:-$PC_PORT}
  PORTCULLIS_LOG=warn taskset -c "$PROXY_CPU" target/release/portcullis serve --workers 1 \
    --config "$1" 2>>"$work/logs/portcullis.err" & pids+=($!); served_pid=$!
  for _ in $(seq 100); do (echo >/dev/tcp/127.0.0.1/"$port") 2>/dev/null && break; sleep 0.1; done
}

# One wrk run: name port pid path [header] -> "requests/s proxy-CPU-µs/request".
rate() {
  local name=$1 port=$2 pid=$3 path=$4 header=${5:-}
  local args=(-t1 -c"$CONNS" --latency)
  [ -n "$header" ] && args+=(-H "$header")
  [ -n "${WRK_SCRIPT:-}" ] && args+=(-s "$WRK_SCRIPT")
  taskset -c "$LOAD_CPU" wrk "${args[@]}" -d2s "http://127.0.0.1:$port$path" >/dev/null 2>&1 || true
  local t0 res t1; t0=$(cpu_ticks "$pid")
  res=$(taskset -c "$LOAD_CPU" wrk "${args[@]}" -d"$DURATION" "http://127.0.0.1:$port$path")
  t1=$(cpu_ticks "$pid")
  echo "$res" > "$out/$MODE-$name.txt"
  if echo "$res" | grep -q "Non-2xx"; then echo "$name: non-2xx answers" >&2; exit 1; fi
  local rps total
  rps=$(echo "$res" | awk '/Requests\/sec/ {print $2}')
  total=$(echo "$res" | awk '/requests in/ {print $1}')
  echo "$rps $(awk -v t=$((t1 - t0)) -v n="$total" -v hz="$(getconf CLK_TCK)" 'BEGIN {printf "%.1f", t / hz * 1e6 / n}')"
}

# Runs every "name|port|pid|path|header" of $specs, interleaved over $ROUNDS rounds, and prints
# the medians as ratios to the first one.
compare() {
  MODE=$1
  echo "wrk -t1 -c$CONNS -d$DURATION, GET 1 KB JSON through Portcullis (1 worker, CPU $PROXY_CPU);"
  echo "modes interleaved over ${ROUNDS:=3} rounds, median"
  echo
  echo "| mode | requests/s (median) | ratio | proxy CPU µs/request (median) | ratio |"
  echo "| --- | ---: | ---: | ---: | ---: |"
  declare -A runs cpus
  local spec name port pid path header r c first=""
  for _ in $(seq "$ROUNDS"); do
    for spec in "${specs[@]}"; do
      IFS='|' read -r name port pid path header <<<"$spec"
      read -r r c <<<"$(rate "$name" "$port" "$pid" "$path" "$header")"
      runs[$name]="${runs[$name]:-} $r"; cpus[$name]="${cpus[$name]:-} $c"
    done
  done
  median() { tr ' ' '\n' <<<"$1" | grep . | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
  ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", a / b}'; }
  local base base_cpu m
  for spec in "${specs[@]}"; do
    IFS='|' read -r name _ _ _ _ <<<"$spec"
    m=$(median "${runs[$name]}"); c=$(median "${cpus[$name]}")
    if [ -z "$first" ]; then first=$name; base=$m; base_cpu=$c; fi
    printf '| %-10s | %10s | %5s | %6s | %5s |\n' "$name" "$m" "$(ratio "$m" "$base")" "$c" "$(ratio "$c" "$base_cpu")"
  done
}

# Instructions per request for each "name|path|header" of $specs on CONFIG.
instructions_table() {
  local spec name path header n base
  echo "| mode | instructions/request | ratio to plain |"
  echo "| --- | ---: | ---: |"
  for spec in "${specs[@]}"; do
    IFS='|' read -r name path header <<<"$spec"
    n=$(instructions "$1" "$path" "$header")
    [ -z "${base:-}" ] && base=$n
    printf '| %-10s | %8s | %5s |\n' "$name" "$n" "$(awk -v a="$n" -v b="$base" 'BEGIN {printf "%.2f", a / b}')"
  done
}

cpu_ticks() { # utime+stime of a process (clock ticks); 0 when no pid
  [ -n "${1:-}" ] || { echo 0; return; }
  awk '{print $14 + $15}' "/proc/$1/stat"
}

taskset -c "$LOAD_CPU" nginx -c "$work/origin.conf" -p "$work" & pids+=($!)

if [ "${1:-}" = auth ]; then
  cargo run --release --locked -q -p portcullis-demo --example bench_tokens -- "$work"
  head -c 32 /dev/urandom | base64 > "$work/pepper"
  cat > "$work/auth.yaml" <<EOF
listeners:
  - { name: http, bind: "127.0.0.1:$PC_PORT" }
limits: { max_connections: 20000, max_connections_per_ip: 20000 }
access_log: { path: logs/portcullis-access.log }
security_events: { enabled: false }
state: { path: state.redb }
upstreams:
  origin: { targets: ["http://127.0.0.1:$ORIGIN_PORT"], max_idle_per_target: 128 }
apis:
  - name: plain
    upstream: origin
    public: true
    routes:
      - { path: /data.json, methods: [GET] }
  - name: protected
    upstream: origin
    auth:
      providers:
        sso: { jwt: { issuer: bench, jwks_file: jwks.json, audiences: [bench], algorithms: [RS256, ES256] } }
        partners: { api_key: { pepper: "\${file:pepper}", store: true } }
    routes:
      - { path: /jwt/data.json, methods: [GET], strip_prefix: /jwt, auth: { providers: [sso], scopes: ["bench:read"] } }
      - { path: /key/data.json, methods: [GET], strip_prefix: /key, auth: { providers: [partners] } }
EOF
  key=$(target/release/portcullis keys create --config "$work/auth.yaml" --api protected --provider partners --owner bench | awk '/^key:/ {print $2}')
  specs=("plain|/data.json|" \
         "jwt-rs256|/jwt/data.json|Authorization: Bearer $(cat "$work/rs256.token")" \
         "jwt-es256|/jwt/data.json|Authorization: Bearer $(cat "$work/es256.token")" \
         "api-key|/key/data.json|X-Api-Key: $key")
  if [ "${2:-}" = instructions ]; then   # bench/run.sh auth instructions
    instructions_table "$work/auth.yaml" | tee "$out/auth-instructions.md"
    exit 0
  fi
  serve "$work/auth.yaml"
  for i in "${!specs[@]}"; do specs[$i]="${specs[$i]%%|*}|$PC_PORT|$served_pid|${specs[$i]#*|}"; done
  compare auth | tee "$out/auth.md"
  exit 0
fi

if [ "${1:-}" = ratelimit ]; then
  REDIS_PORT=18379 PC2_PORT=18084
  taskset -c "$LOAD_CPU" redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save "" --appendonly no \
    --daemonize no >/dev/null & pids+=($!)
  limited_route='      - { path: /limited/data.json, methods: [GET], strip_prefix: /limited, rate_limits: [{ key: [ip], rate: 1000000/s }] }'
  gateway_config "$PC_PORT" "" "$limited_route" > "$work/embedded.yaml"
  gateway_config "$PC2_PORT" "state: { backend: redis, redis: { url: \"redis://127.0.0.1:$REDIS_PORT\" } }" \
    "$limited_route" > "$work/redis.yaml"
  serve "$work/embedded.yaml"; embedded_pid=$served_pid
  serve "$work/redis.yaml" "$PC2_PORT"; redis_pid=$served_pid
  specs=("plain|$PC_PORT|$embedded_pid|/data.json|" \
         "embedded|$PC_PORT|$embedded_pid|/limited/data.json|" \
         "redis|$PC2_PORT|$redis_pid|/limited/data.json|")
  compare ratelimit | tee "$out/ratelimit.md"
  exit 0
fi

if [ "${1:-}" = openapi ]; then
  cp bench/specs/orders.yaml "$work/orders.yaml"
  python3 - "$work/order.json" <<'PY'
import json, sys
items, i = [], 0
while True:
    items.append({"sku": "ABC-%04d" % i, "quantity": 1 + i % 99, "price": 1.5 + i, "gift": i % 2 == 0, "tags": ["blue", "sale"]})
    body = json.dumps({"customer": {"id": "3fa85f64-5717-4562-b3fc-2c963f66afa6", "email": "ann@example.com", "name": "Ann"}, "note": None, "currency": "EUR", "items": items})
    i += 1
    if len(body) >= 1024:
        break
open(sys.argv[1], "w").write(body)
PY
  { gateway_config "$PC_PORT" "security_events: { enabled: false }" \
      "      - { path: /plain/orders, methods: [POST], strip_prefix: /plain }"
    printf '  - name: validated\n    upstream: origin\n    public: true\n    openapi: { spec: orders.yaml }\n'
  } > "$work/openapi.yaml"
  export BODY_FILE="$work/order.json"
  if [ "${2:-}" = instructions ]; then   # bench/run.sh openapi instructions
    specs=("plain|/plain/orders|" "validated|/orders|")
    instructions_table "$work/openapi.yaml" | tee "$out/openapi-instructions.md"
    exit 0
  fi
  serve "$work/openapi.yaml"
  export WRK_SCRIPT=bench/post_json.lua
  specs=("plain|$PC_PORT|$served_pid|/plain/orders|" \
         "validated|$PC_PORT|$served_pid|/orders|")
  compare openapi | sed 's/GET 1 KB JSON/POST of a 1 KB JSON order/' | tee "$out/openapi.md"
  exit 0
fi

if [ "${1:-}" = waf ]; then
  crs=${PORTCULLIS_CRS:-../shared/crs}
  [ -d "$crs/rules" ] || { echo "bench/run.sh waf: set PORTCULLIS_CRS to an OWASP CRS 4 directory" >&2; exit 1; }
  crs=$(cd "$crs" && pwd)
  write_waf_config() {
    { gateway_config "$PC_PORT" "security_events: { enabled: false }" ""
      printf '  - name: waf\n    upstream: origin\n    public: true\n    waf: { ruleset: "%s", paranoia: 1 }\n' "$crs"
      printf '    routes:\n      - { path: /waf/data.json, methods: [GET], strip_prefix: /waf }\n'
    } > "$work/waf.yaml"
  }
  if [ "${2:-}" = instructions ]; then   # bench/run.sh waf instructions
    write_waf_config
    specs=("plain|/data.json|" "crs-pl1|/waf/data.json|")
    instructions_table "$work/waf.yaml" | tee "$out/waf-instructions.md"
    exit 0
  fi
  cargo build --release --locked -q -p portcullis-waf --example crs_transactions
  cc -O2 -o "$work/modsec_bench" bench/waf/modsec_bench.c -lmodsecurity
  {
    echo "CPU per clean transaction (every phase), one thread on CPU $PROXY_CPU; same CRS rules, same requests"
    echo
    echo "| engine | paranoia | GET with query string (µs) | 1 KB JSON POST (µs) |"
    echo "| --- | ---: | ---: | ---: |"
    for level in 1 4; do
      pc=() ms=()
      for kind in get post; do
        pc+=("$(PORTCULLIS_CRS=$crs taskset -c "$PROXY_CPU" target/release/examples/crs_transactions "$level" "$kind" 2000 | awk '{print $2}')")
        ms+=("$(taskset -c "$PROXY_CPU" "$work/modsec_bench" "$kind" 200 "bench/waf/engine-pl$level.conf" \
          "$crs/crs-setup.conf.example" "$crs"/rules/*.conf | awk '{print $2}')")
      done
      echo "| Portcullis | $level | ${pc[0]} | ${pc[1]} |"
      echo "| libmodsecurity $(dpkg-query -W -f='${Version}' libmodsecurity3 2>/dev/null | cut -d- -f1) | $level | ${ms[0]} | ${ms[1]} |"
    done
  } | tee "$out/waf-engine.md"
  echo
  write_waf_config
  serve "$work/waf.yaml"
  specs=("plain|$PC_PORT|$served_pid|/data.json|" \
         "crs-pl1|$PC_PORT|$served_pid|/waf/data.json|")
  compare waf | sed 's/GET 1 KB JSON/GET of a 1 KB JSON body (CRS also inspects the response)/' | tee "$out/waf.md"
  exit 0
fi

if [ "${1:-}" = instructions ]; then
  instructions "$work/portcullis.yaml" /data.json "" | sed 's/^/portcullis user-space instructions per proxied request: /' | tee "$out/instructions.txt"
  exit 0
fi
taskset -c "$PROXY_CPU" nginx -c "$work/nginx.conf" -p "$work" & pids+=($!); nginx_pid=$!
PORTCULLIS_LOG=warn taskset -c "$PROXY_CPU" target/release/portcullis serve --workers 1 \
  --config "$work/portcullis.yaml" 2>"$work/logs/portcullis.err" & pids+=($!); pc_pid=$!
sleep 1
nginx_worker=$(pgrep -P "$nginx_pid" | head -n1)

busy_ticks() { # busy and idle clock ticks of one CPU, from /proc/stat
  awk -v c="cpu$1" '$1 == c {print $2 + $3 + $4 + $7 + $8, $5 + $6}' /proc/stat
}

# One wrk run: name url [pid of the proxy process that does the work]. Appends a line
# "name requests/s p99-ms proxy-CPU-µs/request load-CPU-busy-% errors" to $work/rounds.
run() {
  local name=$1 url=$2 pid=${3:-}
  taskset -c "$LOAD_CPU" wrk -t1 -c"$CONNS" -d2s "$url" >/dev/null 2>&1 || true   # warm-up
  local res t0 t1 b0 i0 b1 i1
  t0=$(cpu_ticks "$pid"); read -r b0 i0 <<<"$(busy_ticks "$LOAD_CPU")"
  res=$(taskset -c "$LOAD_CPU" wrk -t1 -c"$CONNS" -d"$DURATION" --latency "$url")
  t1=$(cpu_ticks "$pid"); read -r b1 i1 <<<"$(busy_ticks "$LOAD_CPU")"
  echo "$res" >> "$out/$name.txt"
  local rps p99 errs total cpu_us="-"
  rps=$(echo "$res" | awk '/Requests\/sec/ {print $2}')
  # wrk prints 812.00us, 1.41ms or 1.02s: milliseconds.
  p99=$(echo "$res" | awk '$1 == "99%" {v = $2 + 0; if ($2 ~ /us$/) v /= 1000; else if ($2 ~ /[0-9]s$/ && $2 !~ /ms$/) v *= 1000; printf "%.2f", v}')
  errs=$(echo "$res" | awk '/Non-2xx|Socket errors/ {print}' | tr ' \n' '_ ')
  total=$(echo "$res" | awk '/requests in/ {print $1}')
  if [ -n "$pid" ] && [ "${total:-0}" -gt 0 ]; then
    cpu_us=$(awk -v t=$((t1 - t0)) -v n="$total" -v hz="$(getconf CLK_TCK)" 'BEGIN {printf "%.1f", t / hz * 1e6 / n}')
  fi
  local load; load=$(( 100 * (b1 - b0) / (b1 - b0 + i1 - i0 + 1) ))
  echo "$name $rps $p99 $cpu_us $load ${errs:-}" >> "$work/rounds"
}

# The median of column COL of NAME's lines in $work/rounds.
round_median() {
  awk -v n="$1" -v c="$2" '$1 == n {print $c}' "$work/rounds" | sort -n \
    | awk '{a[NR] = $1} END {if (NR == 0 || a[1] == "-") print "-"; else print a[int((NR + 1) / 2)]}'
}

{
echo "wrk -t1 -c$CONNS -d$DURATION, GET 1 KB JSON; proxy on CPU $PROXY_CPU, origin and wrk on CPU $LOAD_CPU;"
echo "targets interleaved over ${ROUNDS:=3} rounds, medians; ratios are Portcullis / nginx"
echo
: > "$work/rounds"
rm -f "$out"/origin-direct.txt "$out"/nginx-*.txt "$out"/portcullis-*.txt
for _ in $(seq "$ROUNDS"); do
  run origin-direct "http://127.0.0.1:$ORIGIN_PORT/data.json"
  run nginx-http "http://127.0.0.1:$NGINX_PORT/data.json" "$nginx_worker"
  run portcullis-http "http://127.0.0.1:$PC_PORT/data.json" "$pc_pid"
  run nginx-tls "https://127.0.0.1:$NGINX_TLS_PORT/data.json" "$nginx_worker"
  run portcullis-tls "https://127.0.0.1:$PC_TLS_PORT/data.json" "$pc_pid"
done
cp "$work/rounds" "$out/rounds.txt"
echo "| target | requests/s | ratio | p99 ms | ratio | proxy CPU µs/req | load CPU busy | errors |"
echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |"
for name in origin-direct nginx-http portcullis-http nginx-tls portcullis-tls; do
  rps=$(round_median "$name" 2); p99=$(round_median "$name" 3)
  cpu=$(round_median "$name" 4); load=$(round_median "$name" 5)
  errs=$(awk -v n="$name" '$1 == n && NF > 5 {for (i = 6; i <= NF; i++) printf "%s ", $i}' "$work/rounds")
  r_rps="" r_p99=""
  if [[ $name == portcullis-* ]]; then
    base=nginx-${name#portcullis-}
    r_rps=$(awk -v a="$rps" -v b="$(round_median "$base" 2)" 'BEGIN {printf "%.2f", a / b}')
    r_p99=$(awk -v a="$p99" -v b="$(round_median "$base" 3)" 'BEGIN {printf "%.2f", a / b}')
  fi
  printf '| %-16s | %10s | %5s | %6s | %5s | %6s | %3s%% | %s |\n' \
    "$name" "$rps" "$r_rps" "$p99" "$r_p99" "$cpu" "$load" "${errs:-}"
done
echo
for spec in "nginx:$nginx_pid:$NGINX_PORT" "portcullis:$pc_pid:$PC_PORT"; do
  IFS=: read -r name pid port <<<"$spec"
  # nginx: measure the worker (the master holds no connections).
  if [ "$name" = nginx ]; then pid=$nginx_worker; fi
  echo "$name idle connections: $(python3 bench/idle_conns.py "$pid" 127.0.0.1 "$port" 1000)"
done
} | tee "$out/summary.md"
