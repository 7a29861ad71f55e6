# Shared by scripts/serve and scripts/test: find uv, or install it once.
# Only Python 3.11+ (and apt, on Debian-like systems) is assumed.

UV_VERSION="0.13.9"
export UV_PYTHON_DOWNLOADS=never
# Trust the system certificate store (and any CA an operator added to it).
export UV_SYSTEM_CERTS="${UV_SYSTEM_CERTS:-1}"

ensure_uv() {
  if command -v uv >/dev/null 2>&1; then
    UV=uv
    return
  fi
  local tools=".cache/uv-bootstrap"
  if [ ! -x "$tools/bin/uv" ]; then
    echo "leads-proxy: uv not found; installing uv $UV_VERSION into $tools (once)" >&2
    if ! python3 -m venv "$tools" >/dev/null 2>&1; then
      # Debian and Ubuntu ship venv (and ensurepip) as a separate package.
      rm -rf "$tools"
      if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
        apt-get update -qq && apt-get install -y -qq python3-venv >/dev/null
        python3 -m venv "$tools"
      else
        echo "leads-proxy: python3 cannot make a venv; install python3-venv (apt) or uv" >&2
        exit 1
      fi
    fi
    "$tools/bin/python" -m pip install --quiet --disable-pip-version-check "uv==$UV_VERSION"
  fi
  UV="$tools/bin/uv"
}

# Installs a Debian package when a command is missing and we may (root + apt).
ensure_apt() {
  local command="$1" package="$2"
  command -v "$command" >/dev/null 2>&1 && return 0
  if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    echo "leads-proxy: installing $package (apt) for the tests" >&2
    if [ -z "${APT_UPDATED:-}" ]; then
      apt-get update -qq >/dev/null && APT_UPDATED=1
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$package" >/dev/null
  else
    echo "leads-proxy: $command is missing and cannot be installed here; tests that need it skip" >&2
  fi
}
