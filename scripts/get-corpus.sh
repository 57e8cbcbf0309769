#!/usr/bin/env bash
# Fetch the public parts of the shared test corpus into DIR and verify their sha256 checksums.
#   bash scripts/get-corpus.sh DIR            download what is missing, then verify
#   bash scripts/get-corpus.sh --verify DIR   verify only the files already in DIR
# Then run the tests with DUMPTRIAGE_SHARED=DIR (or make DIR the folder ../shared).
# Sources: scripts/corpus-sources.txt (from each corpus folder's MANIFEST.md); checksums:
# scripts/corpus.sha256 (computed from the corpus the project's tests were written against).
# Nothing is copied into the repository: third-party files stay in DIR.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
verify_only=0
if [ "${1:-}" = "--verify" ]; then verify_only=1; shift; fi
if [ $# -ne 1 ]; then
  echo "usage: bash scripts/get-corpus.sh [--verify] DIR" >&2
  exit 2
fi
dir="$1"
mkdir -p "$dir"
dir="$(cd "$dir" && pwd)"

if [ $verify_only -eq 0 ]; then
  command -v curl >/dev/null 2>&1 || { echo "get-corpus: curl is needed" >&2; exit 1; }
  failed=0
  while read -r path url; do
    case "$path" in ''|'#'*) continue ;; esac
    [ -f "$dir/$path" ] && continue
    mkdir -p "$(dirname "$dir/$path")"
    if curl -fsSL --retry 2 -o "$dir/$path.part" "$url"; then
      mv "$dir/$path.part" "$dir/$path"
    else
      rm -f "$dir/$path.part"
      echo "get-corpus: could not fetch $path from $url" >&2
      failed=1
    fi
  done < "$here/corpus-sources.txt"
  # The story's logs are in the repository already (samples/, identical copies).
  mkdir -p "$dir/story"
  for name in libvirtd.log ps-vm84-after-fix.txt qemu-vm113.log windbg-analyze.txt; do
    [ -f "$dir/story/$name" ] || cp "$here/../samples/win7-x86-clock-watchdog/$name" "$dir/story/"
  done
  [ $failed -eq 0 ] || echo "get-corpus: some files could not be fetched (see above)" >&2
fi

# Verify every file present; list those that are absent (not public, or not fetched).
bad=0
present=0
absent=()
while read -r sum path; do
  case "$sum" in ''|'#'*) continue ;; esac
  if [ ! -f "$dir/$path" ]; then
    absent+=("$path")
    continue
  fi
  present=$((present + 1))
  actual="$(sha256sum "$dir/$path" | cut -d' ' -f1)"
  if [ "$actual" != "$sum" ]; then
    echo "get-corpus: checksum mismatch: $path (got $actual, want $sum)" >&2
    bad=1
  fi
done < "$here/corpus.sha256"
echo "get-corpus: $present files verified in $dir; ${#absent[@]} not there (tests needing them skip):"
for path in "${absent[@]}"; do echo "  $path"; done
[ $bad -eq 0 ] || exit 1
