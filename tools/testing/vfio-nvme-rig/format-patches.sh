#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Write the submission series (`make patches`): for each hook patch of
# patches/linux/series, one `git format-patch`-style patch that carries its
# commit message, its hooks into existing files and, as new files, the files
# patches/linux/new-files gives it.  The series applies to linux-source-6.12
# with `git am` or `patch -p1`; check-patches.sh tests that it does and that
# the result builds.
# usage: format-patches.sh OUTDIR
set -euo pipefail
. "$(dirname "$0")/common.sh"

OUT=${1:?usage: format-patches.sh OUTDIR}
P=$TOP/patches/linux
cd "$TOP"

# the files a new-files entry names: every tracked file below a directory
files_of() { # patch name
	local spec
	spec=$(sed -n "s#^$1:##p" "$P/new-files")
	[ -n "$spec" ] || return 0
	# shellcheck disable=SC2086
	git ls-files -co --exclude-standard -- $spec
}

mapfile -t series < <(grep -v -e '^#' -e '^$' "$P/series")

# every kernel file goes in exactly one patch
want=$( { git ls-files -co --exclude-standard drivers include; echo Documentation/driver-api/vfio-nvme.rst; } |
	grep -v -e '\.o$' -e '\.ko$' -e '\.mod' -e '\.cmd$' -e 'Module.symvers' -e 'modules.order' | sort)
have=$(for p in "${series[@]}"; do files_of "$p"; done | sort)
if [ "$want" != "$have" ]; then
	echo "patches/linux/new-files does not name every kernel file exactly once:" >&2
	diff <(echo "$want") <(echo "$have") | sed -n 's/^[<>] /  /p' >&2
	exit 1
fi

rm -rf "$OUT" && mkdir -p "$OUT"
n=0 total=${#series[@]}
version=$(git describe --always --dirty 2>/dev/null || echo unknown)
for p in "${series[@]}"; do
	n=$((n + 1))
	mapfile -t new < <(files_of "$p")
	diff=$(mktemp)
	# the hooks (everything from the first diff line on), then the new files
	sed -n '/^diff --git /,$p' "$P/$p" > "$diff"
	for f in "${new[@]}"; do
		git diff --no-index -- /dev/null "$f" >> "$diff" || true
	done
	date=$(git log -1 --format=%aD -- "$P/$p" "${new[@]}" 2>/dev/null)
	{
		echo "From 0000000000000000000000000000000000000000 Mon Sep 17 00:00:00 2001"
		sed -n '1,/^---$/{/^---$/d;/^Subject: /!p;/^Subject: /{s/^Subject: \[PATCH\]/Subject: [PATCH '"$n\/$total"']/;p}}' "$P/$p" |
			sed "1a Date: ${date:-$(date -R)}"
		echo "---"
		git apply --stat "$diff"
		echo
		cat "$diff"
		echo "-- "
		echo "nvme-vfio-pci $version"
		echo
	} > "$OUT/$p"
	rm -f "$diff"
	echo "$p" >> "$OUT/series"
done
echo "$OUT: $total patches"
