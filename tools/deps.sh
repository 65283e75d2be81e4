# shellcheck shell=bash
# tools/deps.sh: the Debian 12 packages Attnscope needs, shared by tools/run
# and tools/test (sourced, not run). attn_ensure_deps installs whatever is
# missing and does no apt work at all when everything is present.

ATTN_DEBIAN_PACKAGES=(
  # build
  meson ninja-build pkg-config gcc
  libglib2.0-dev libjson-glib-dev libopenblas-dev
  libgtk-4-dev libadwaita-1-dev libcairo2-dev libpango1.0-dev
  gettext
  # tests: asset validation, the GUI under Xvfb, PDF export checks
  desktop-file-utils appstream
  xvfb xauth dbus
  poppler-utils
  # fonts the views need for Chinese tokens and emoji (Pango falls back to
  # them; without them such tokens draw as boxes)
  fonts-noto-cjk fonts-noto-color-emoji
)

# Prints the packages of ATTN_DEBIAN_PACKAGES not installed, one a line.
# One dpkg-query call for all of them: it prints the ones dpkg knows (and
# fails when some are unknown, which is also "missing" here).
attn_missing_deps ()
{
  local installed pkg
  installed=$(dpkg-query -W -f='${db:Status-Status} ${Package}\n' \
                "${ATTN_DEBIAN_PACKAGES[@]}" 2>/dev/null || true)
  for pkg in "${ATTN_DEBIAN_PACKAGES[@]}"; do
    if ! grep -qxF "installed $pkg" <<<"$installed"; then
      echo "$pkg"
    fi
  done
}

# Installs the missing packages, as root directly or through sudo.
attn_ensure_deps ()
{
  local missing
  mapfile -t missing < <(attn_missing_deps)
  if [ "${#missing[@]}" -eq 0 ]; then
    return 0
  fi

  local -a sudo=()
  if [ "$(id -u)" -ne 0 ]; then
    if ! command -v sudo >/dev/null 2>&1; then
      echo "attnscope: missing Debian packages: ${missing[*]}" >&2
      echo "attnscope: run this as root, or install sudo, or run:" >&2
      echo "  apt-get install ${missing[*]}" >&2
      return 1
    fi
    sudo=(sudo)
  fi

  echo "attnscope: installing missing Debian packages: ${missing[*]}"
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -q "${missing[@]}"
}

# Configures build/ once (meson reconfigures itself after that) and builds.
attn_build ()
{
  local root=$1
  if [ ! -f "$root/build/meson-private/coredata.dat" ]; then
    meson setup "$root/build" "$root"
  fi
  meson compile -C "$root/build"
}
