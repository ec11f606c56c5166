#!/usr/bin/env bash
# Installs the foreign peers the interoperability tests and benchmarks drive,
# checks that each one starts, and exports where they are:
#
#   SSE_CHROMIUM       headless Chromium (Debian `chromium`)
#   SSE_NODE_MODULES   tests/peers/node/node_modules, holding the npm `eventsource`
#   SSE_PYTHON         tests/peers/venv/bin/python (sse-starlette, uvicorn, httpx-sse)
#   SSE_NGINX          nginx (Debian `nginx-light`)
#   SSE_NCHAN_MODULE   ngx_nchan_module.so (Debian `libnginx-mod-nchan`)
#   SSE_REDIS_SERVER   redis-server (Debian `redis-server`)
#   SSE_CURL           curl with HTTP/2 (Debian `curl`)
#   SSE_LD_CONTRACT_TESTS  LaunchDarkly's sse-contract-tests harness, built
#                      into tests/peers/ld-contract-tests/ from the sources in
#                      $SSE_SHARED_PEERS (default: ../shared/peers beside the
#                      repository) by its build-ld-contract-tests.sh, which
#                      installs Debian's Go packages when missing
#
# Two ways to use it:
#   source scripts/install-peers.sh     # installs, then exports the variables
#   eval "$(scripts/install-peers.sh)"  # the same from a child process: it
#                                       # prints `export VAR=...` lines on stdout
# Everything else goes to stderr. It is idempotent: what is present is
# skipped, so a second run takes a few seconds (mostly the smoke checks).
#
# Under CI=true any failure is fatal (non-zero status, every problem listed);
# otherwise each problem is a warning and the tests that need that peer skip.
# SSE_SKIP_PEER_INSTALL=1 installs nothing and only locates and checks.
# A variable already set to an existing path is kept, so a peer can be
# pointed elsewhere (SSE_CHROMIUM=/opt/chrome/chrome ...).

# Runs `sse_install_peers` and exports into the current shell. Written not to
# rely on `set -e`, because a sourcing shell may or may not have it.

_sse_peers_log() { printf 'install-peers: %s\n' "$*" >&2; }

_sse_peers_problem() {
    if [ "${CI:-}" = "true" ]; then
        printf 'install-peers: ERROR: %s\n' "$*" >&2
    else
        printf 'install-peers: WARNING: %s (tests needing it will be skipped)\n' "$*" >&2
    fi
    _sse_peers_problems+=("$*")
}

# Digest of a file, to tell whether an install made from it is current.
_sse_peers_digest() { sha256sum "$1" | cut -d' ' -f1; }

_sse_peers_root_cmd() {
    if [ "$(id -u)" -eq 0 ]; then
        "$@"
    elif command -v sudo >/dev/null 2>&1; then
        sudo "$@"
    else
        _sse_peers_log "not root and no sudo: cannot run $*"
        return 1
    fi
}

_sse_peers_apt() {
    local wanted=(chromium nginx-light libnginx-mod-nchan redis-server curl)
    # Only when there is no node at all: the machine's own Node.js (often
    # newer than Debian's) must not be replaced.
    command -v node >/dev/null 2>&1 || wanted+=(nodejs npm)
    local missing=() package
    for package in "${wanted[@]}"; do
        if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'install ok installed'; then
            missing+=("$package")
        fi
    done
    if [ "${#missing[@]}" -eq 0 ]; then
        _sse_peers_log "Debian packages present: ${wanted[*]}"
        return 0
    fi
    if [ "${SSE_SKIP_PEER_INSTALL:-}" = "1" ]; then
        _sse_peers_problem "Debian packages missing (SSE_SKIP_PEER_INSTALL=1): ${missing[*]}"
        return 0
    fi
    if ! command -v apt-get >/dev/null 2>&1; then
        _sse_peers_problem "no apt-get to install ${missing[*]}"
        return 0
    fi
    _sse_peers_log "installing Debian packages: ${missing[*]}"
    # Other users of the machine may hold the dpkg lock: wait for it rather
    # than fail.
    local apt_opts=(-o DPkg::Lock::Timeout=600 -o Acquire::Retries=3)
    local try
    for try in 1 2 3; do
        if _sse_peers_root_cmd env DEBIAN_FRONTEND=noninteractive apt-get "${apt_opts[@]}" -q update >&2; then
            break
        fi
        [ "$try" -eq 3 ] || sleep 10
    done
    if ! _sse_peers_root_cmd env DEBIAN_FRONTEND=noninteractive \
        apt-get "${apt_opts[@]}" -q -y --no-install-recommends install "${missing[@]}" >&2; then
        _sse_peers_problem "apt-get install ${missing[*]} failed"
    fi
}

_sse_peers_node() {
    local dir="$_sse_peers_root/tests/peers/node"
    if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
        _sse_peers_problem "node and npm are needed for the npm eventsource peer"
        return 0
    fi
    local stamp="$dir/node_modules/.sse-peers-lock" want
    want="$(_sse_peers_digest "$dir/package-lock.json")"
    if [ -d "$dir/node_modules/eventsource" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then
        _sse_peers_log "npm peers present ($dir/node_modules)"
        return 0
    fi
    if [ "${SSE_SKIP_PEER_INSTALL:-}" = "1" ]; then
        _sse_peers_problem "npm peers not installed (SSE_SKIP_PEER_INSTALL=1)"
        return 0
    fi
    _sse_peers_log "installing npm peers with npm ci in $dir"
    if (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error >&2); then
        printf '%s\n' "$want" >"$stamp"
    else
        _sse_peers_problem "npm ci in $dir failed"
    fi
}

_sse_peers_python() {
    local venv="$_sse_peers_root/tests/peers/venv"
    local requirements="$_sse_peers_root/tests/peers/requirements.txt"
    local stamp="$venv/.sse-peers-requirements" want
    want="$(_sse_peers_digest "$requirements")"
    if "$venv/bin/python" -c '' 2>/dev/null && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then
        _sse_peers_log "Python peers present ($venv)"
        return 0
    fi
    if [ "${SSE_SKIP_PEER_INSTALL:-}" = "1" ]; then
        _sse_peers_problem "Python peers not installed (SSE_SKIP_PEER_INSTALL=1)"
        return 0
    fi
    local python
    python="$(command -v python3 || true)"
    if [ -z "$python" ]; then
        _sse_peers_problem "python3 is needed for the Python peers"
        return 0
    fi
    _sse_peers_log "installing Python peers into $venv"
    # --clear: a venv whose interpreter moved or broke is rebuilt, not patched.
    if "$python" -m venv --clear "$venv" >&2 \
        && "$venv/bin/python" -m pip install --disable-pip-version-check -q -r "$requirements" >&2; then
        printf '%s\n' "$want" >"$stamp"
    else
        _sse_peers_problem "creating the Python venv $venv from $requirements failed"
    fi
}

# LaunchDarkly's sse-contract-tests harness: no registry carries it, so it is
# built offline from the sources in the shared peers folder. The stamp holds
# the digests of the build script and of the harness's main.go (which carries
# its version), so a new version of either is rebuilt.
_sse_peers_ld_contract_tests() {
    local shared
    shared="$(realpath -m "${SSE_SHARED_PEERS:-$_sse_peers_root/../shared/peers}")"
    local build="$shared/build-ld-contract-tests.sh"
    local main_go="$shared/ld-sse-contract-tests/src/github.com/launchdarkly/sse-contract-tests/main.go"
    local dir="$_sse_peers_root/tests/peers/ld-contract-tests"
    local binary="$dir/sse-contract-tests" stamp="$dir/.sse-peers-build" want
    if [ -n "${SSE_LD_CONTRACT_TESTS:-}" ] && [ -x "$SSE_LD_CONTRACT_TESTS" ]; then
        _sse_peers_log "sse-contract-tests present ($SSE_LD_CONTRACT_TESTS)"
        return 0
    fi
    if [ ! -f "$build" ] || [ ! -f "$main_go" ]; then
        _sse_peers_problem "sse-contract-tests sources not found in $shared (set SSE_SHARED_PEERS)"
        return 0
    fi
    want="$(_sse_peers_digest "$build") $(_sse_peers_digest "$main_go")"
    if [ -x "$binary" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then
        _sse_peers_log "sse-contract-tests present ($binary)"
        return 0
    fi
    if [ "${SSE_SKIP_PEER_INSTALL:-}" = "1" ]; then
        _sse_peers_problem "sse-contract-tests not built (SSE_SKIP_PEER_INSTALL=1)"
        return 0
    fi
    _sse_peers_log "building sse-contract-tests from $shared into $dir"
    mkdir -p "$dir"
    # The build script's apt-get does not wait for the dpkg lock another
    # user of the machine may hold: try again rather than fail.
    local try
    for try in 1 2 3; do
        if bash "$build" "$binary" >&2; then
            printf '%s\n' "$want" >"$stamp"
            return 0
        fi
        [ "$try" -eq 3 ] || sleep 20
    done
    _sse_peers_problem "building sse-contract-tests with $build failed"
}

# Sets and exports VAR to the first existing path among the candidates,
# keeping a value the caller already set to an existing path.
_sse_peers_export() {
    local var="$1" path
    shift
    if [ -n "${!var:-}" ] && [ -e "${!var}" ]; then
        export "$var"
        return 0
    fi
    for path in "$@"; do
        if [ -n "$path" ] && [ -e "$path" ]; then
            export "$var=$path"
            return 0
        fi
    done
    unset "$var"
    _sse_peers_problem "$var: not found"
}

_sse_peers_locate() {
    local peers="$_sse_peers_root/tests/peers"
    _sse_peers_export SSE_CHROMIUM "$(command -v chromium 2>/dev/null)" /usr/bin/chromium
    _sse_peers_export SSE_NODE_MODULES "$peers/node/node_modules"
    _sse_peers_export SSE_PYTHON "$peers/venv/bin/python"
    _sse_peers_export SSE_NGINX "$(command -v nginx 2>/dev/null)" /usr/sbin/nginx
    _sse_peers_export SSE_NCHAN_MODULE \
        "$(dpkg -L libnginx-mod-nchan 2>/dev/null | grep '/ngx_nchan_module\.so$' | head -n 1)"
    _sse_peers_export SSE_REDIS_SERVER "$(command -v redis-server 2>/dev/null)" /usr/bin/redis-server
    _sse_peers_export SSE_CURL "$(command -v curl 2>/dev/null)" /usr/bin/curl
    _sse_peers_export SSE_LD_CONTRACT_TESTS "$peers/ld-contract-tests/sse-contract-tests"
}

# Starts each peer once, so that an install that "succeeded" but cannot run
# is caught here rather than as a confusing test failure.
_sse_peers_check() {
    local scratch
    scratch="$(mktemp -d)"
    if [ -n "${SSE_CHROMIUM:-}" ]; then
        # A throwaway profile: other Chromium processes on the machine must
        # not share (and lock) ours.
        if timeout 120 "$SSE_CHROMIUM" --headless --no-sandbox --disable-gpu \
            --disable-background-networking --user-data-dir="$scratch/chromium" \
            --dump-dom about:blank 2>"$scratch/chromium.log" | grep -q '<html'; then
            _sse_peers_log "ok: $("$SSE_CHROMIUM" --version 2>/dev/null) renders a page headless"
        else
            _sse_peers_problem "$SSE_CHROMIUM --headless --dump-dom failed: $(tail -n 3 "$scratch/chromium.log")"
        fi
    fi
    if [ -n "${SSE_NODE_MODULES:-}" ]; then
        if (cd "$SSE_NODE_MODULES/.." && node -e '
            const { EventSource } = require("eventsource");
            if (typeof EventSource !== "function") process.exit(1);
            console.log(require("eventsource/package.json").version);' >"$scratch/node.out" 2>&1); then
            _sse_peers_log "ok: node $(node --version) loads eventsource $(cat "$scratch/node.out")"
        else
            _sse_peers_problem "node cannot load eventsource from $SSE_NODE_MODULES: $(cat "$scratch/node.out")"
        fi
    fi
    if [ -n "${SSE_PYTHON:-}" ]; then
        if "$SSE_PYTHON" -c 'import sse_starlette, starlette, uvicorn, httpx, httpx_sse' 2>"$scratch/python.log"; then
            _sse_peers_log "ok: $("$SSE_PYTHON" --version) imports sse_starlette, starlette, uvicorn, httpx, httpx_sse"
        else
            _sse_peers_problem "$SSE_PYTHON cannot import the peers: $(tail -n 3 "$scratch/python.log")"
        fi
    fi
    if [ -n "${SSE_NGINX:-}" ] && [ -n "${SSE_NCHAN_MODULE:-}" ]; then
        mkdir -p "$scratch/nginx"
        # Every path inside the scratch folder, so the check needs no root
        # and leaves nothing behind.
        cat >"$scratch/nginx/nginx.conf" <<EOF
load_module $SSE_NCHAN_MODULE;
pid $scratch/nginx/nginx.pid;
error_log $scratch/nginx/error.log;
events {}
http {
    access_log off;
    client_body_temp_path $scratch/nginx/body;
    proxy_temp_path $scratch/nginx/proxy;
    fastcgi_temp_path $scratch/nginx/fastcgi;
    uwsgi_temp_path $scratch/nginx/uwsgi;
    scgi_temp_path $scratch/nginx/scgi;
    server {
        listen 127.0.0.1:8080;
        location = /sub { nchan_subscriber eventsource; nchan_channel_id check; }
        location = /pub { nchan_publisher; nchan_channel_id check; }
    }
}
EOF
        if "$SSE_NGINX" -t -q -p "$scratch/nginx" -e "$scratch/nginx/error.log" \
            -c "$scratch/nginx/nginx.conf" >"$scratch/nginx.log" 2>&1; then
            _sse_peers_log "ok: $("$SSE_NGINX" -v 2>&1) loads $SSE_NCHAN_MODULE"
        else
            _sse_peers_problem "nginx cannot load nchan: $(tail -n 3 "$scratch/nginx.log")"
        fi
    fi
    if [ -n "${SSE_REDIS_SERVER:-}" ]; then
        if "$SSE_REDIS_SERVER" --version >"$scratch/redis.log" 2>&1; then
            _sse_peers_log "ok: $(cut -d' ' -f1-3 "$scratch/redis.log")"
        else
            _sse_peers_problem "$SSE_REDIS_SERVER does not run: $(cat "$scratch/redis.log")"
        fi
    fi
    if [ -n "${SSE_CURL:-}" ]; then
        if "$SSE_CURL" --version 2>&1 | grep -q 'HTTP2'; then
            _sse_peers_log "ok: $("$SSE_CURL" --version | head -n 1 | cut -d' ' -f1-2) speaks HTTP/2"
        else
            _sse_peers_problem "$SSE_CURL has no HTTP/2 support"
        fi
    fi
    if [ -n "${SSE_LD_CONTRACT_TESTS:-}" ]; then
        # Without -url it prints its version and usage, and exits.
        "$SSE_LD_CONTRACT_TESTS" -help >"$scratch/ld.log" 2>&1
        if grep -q 'sse-contract-tests [0-9]' "$scratch/ld.log"; then
            _sse_peers_log "ok: $(grep -o 'sse-contract-tests [0-9.]*' "$scratch/ld.log" | head -n 1) runs"
        else
            _sse_peers_problem "$SSE_LD_CONTRACT_TESTS does not run: $(tail -n 3 "$scratch/ld.log")"
        fi
    fi
    rm -rf "$scratch"
}

sse_install_peers() {
    _sse_peers_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
    _sse_peers_problems=()
    _sse_peers_apt
    _sse_peers_node
    _sse_peers_python
    _sse_peers_ld_contract_tests
    _sse_peers_locate
    _sse_peers_check
    if [ "${#_sse_peers_problems[@]}" -gt 0 ] && [ "${CI:-}" = "true" ]; then
        _sse_peers_log "FAILED (CI=true makes every peer mandatory):"
        printf '  - %s\n' "${_sse_peers_problems[@]}" >&2
        return 1
    fi
    return 0
}

if (return 0 2>/dev/null); then
    # Sourced: leave the caller's shell options alone.
    sse_install_peers
else
    set -euo pipefail
    sse_install_peers
    for _sse_var in SSE_CHROMIUM SSE_NODE_MODULES SSE_PYTHON SSE_NGINX SSE_NCHAN_MODULE SSE_REDIS_SERVER SSE_CURL SSE_LD_CONTRACT_TESTS; do
        if [ -n "${!_sse_var:-}" ]; then
            printf 'export %s=%q\n' "$_sse_var" "${!_sse_var}"
        fi
    done
fi
