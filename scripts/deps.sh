# Sourced by the other scripts: install the Debian 12 packages the build and the
# tests need, only those missing (apt-get needs root; sudo is used if present).
EVT_PACKAGES="meson ninja-build pkg-config gcc g++ libc6-dev liburcu-dev libconfig-dev libcriterion-dev libxxhash-dev python3 python3-dev python3-venv python3-mesonpy patchelf bash-completion redis-server libhiredis-dev"

evt_install_deps() {
	local missing=() p
	for p in $EVT_PACKAGES "$@"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	echo "installing: ${missing[*]}"
	local sudo=
	[ "$(id -u)" -ne 0 ] && sudo=sudo
	$sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# evt_build DIR [meson options...]: configure once, then build.
evt_build() {
	local dir=$1; shift
	[ -f "$dir/build.ninja" ] || meson setup "$dir" -Dtests=enabled "$@" >/dev/null
	ninja -C "$dir" >/dev/null
}
