#!/usr/bin/env bash
# Fetch the training music (and drum one-shots used as hard negatives) from Debian packages.
#
#   scripts/get_music.sh              # into ${VINYLMON_CACHE:-<repo>/cache}
#   PYTHON=.venv/bin/python scripts/get_music.sh   # interpreter with soundfile, for durations
#
# Uses only `apt-get download` and `dpkg-deb -x`, so no root is needed -- unless the package
# lists are missing, in which case `apt-get update` (root) is run first.
#
# Layout:
#   <cache>/debs/<pkg>_<ver>_all.deb
#   <cache>/music/<pkg>/...        audio files only, subfolders kept relative to the package's
#                                  music folder (so file names stay unique per package)
#   <cache>/drums/<kit>/...        hydrogen drum kits, audio files only
#   <cache>/stamps/<pkg>.done      written after the package's folder is complete
#
# Idempotent: a package whose stamp and folder exist is skipped (no apt, no extraction).
# Each package is extracted into <cache>/.tmp and renamed into place, then stamped, so an
# interrupted run leaves no stamp and the package is redone next time.
# To refresh a package: rm <cache>/stamps/<pkg>.done (and its .deb for a newer version).
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cache="${VINYLMON_CACHE:-$repo/cache}"

# Package -> folder holding the audio, relative to the extracted package (globs allowed).
# A "*.pk3.d" component is the content of a Quake-style .pk3 (zip) archive shipped in the .deb.
# Checked in Debian bookworm with `apt-cache show` / `dpkg-deb -c`: none of these is a
# transitional package and none needs a -data package; each one holds its audio itself.
declare -A root=(
    # 41 .ogg tracks
    [wesnoth-1.16-music]="usr/share/games/wesnoth/*/data/core/music"
    # the music is one zip, base/0music.pk3, holding music/*.ogg (64 tracks)
    [ufoai-music]="usr/share/games/ufoai/base/0music.pk3.d/music"
    # Ogg Opus tracks in albums/<album>/ (three albums); png/json/txt album metadata dropped
    [warzone2100-music]="usr/share/games/warzone2100/music"
    # the music is one zip, data/music.pk3, holding sound/cdtracks/*.ogg (18 tracks)
    [nexuiz-music]="usr/share/games/nexuiz/data/music.pk3.d/sound/cdtracks"
    # .ogg tracks, plus lose/ and win/ jingles
    [singularity-music]="usr/share/games/singularity/music"
    # sounds and music together: only music/ is kept (sounds/ are game effects)
    [colobot-common-sounds]="usr/share/games/colobot/music"
    # one folder per kit (wav/flac/aiff one-shots); drumkit.xml, README, demo songs dropped
    [hydrogen-drumkits]="usr/share/hydrogen/data/drumkits"
)
packages=(wesnoth-1.16-music ufoai-music warzone2100-music nexuiz-music singularity-music
          colobot-common-sounds hydrogen-drumkits)
audio_re='\.(ogg|oga|opus|flac|wav|aif|aiff|mp3|m4a)$'

say() { echo "[get_music] $*"; }
die() { echo "[get_music] error: $*" >&2; exit 1; }

dest_of() {  # where a package's audio ends up
    if [[ "$1" == hydrogen-drumkits ]]; then echo "$cache/drums"; else echo "$cache/music/$1"; fi
}
is_done() { [[ -f "$cache/stamps/$1.done" && -d "$(dest_of "$1")" ]]; }

mkdir -p "$cache/debs" "$cache/music" "$cache/stamps" "$cache/.tmp"

# One run at a time per cache.
if command -v flock >/dev/null 2>&1; then
    exec 9>"$cache/.lock"
    flock -n 9 || die "another get_music.sh is running on $cache"
fi
# Leftovers of an interrupted run are never trusted (safe: we hold the lock).
rm -rf "${cache:?}/.tmp/"*
tmp=""
trap 'if [[ -n "$tmp" ]]; then rm -rf "$tmp"; fi' EXIT

todo=()
for p in "${packages[@]}"; do
    if is_done "$p"; then say "$p: up to date"; else todo+=("$p"); fi
done

# ---------------------------------------------------------------- download
deb_of() {  # newest .deb of a package already in debs/, if any
    local f
    f=$(find "$cache/debs" -maxdepth 1 -name "${1}_*.deb" | sort -V | tail -n 1)
    [[ -n "$f" ]] && echo "$f"
    return 0
}

need_dl=()
for p in ${todo[@]+"${todo[@]}"}; do
    f=$(deb_of "$p")
    if [[ -n "$f" ]] && dpkg-deb --info "$f" >/dev/null 2>&1; then continue; fi
    need_dl+=("$p")
done

if [[ ${#need_dl[@]} -gt 0 ]]; then
    command -v apt-get >/dev/null 2>&1 && command -v dpkg-deb >/dev/null 2>&1 \
        || die "needs apt-get and dpkg-deb (a Debian/Ubuntu system)"
    has_candidate() {  # (no `| grep -q`: with pipefail its early exit would fail the pipe)
        local out
        out=$(apt-cache policy "$1" 2>/dev/null || true)
        [[ "$out" =~ Candidate:\ [^\(] ]]
    }
    if ! has_candidate wesnoth-1.16-music; then
        if [[ $(id -u) -ne 0 ]]; then
            die "the apt package lists are missing or stale (no candidate for wesnoth-1.16-music);
run 'sudo apt-get update' once, then run this script again (it needs no root itself)"
        fi
        say "apt package lists missing: running apt-get update"
        apt-get update -q || die "apt-get update failed"
    fi
    apt_opts=(-q)
    # As root, apt drops to user _apt, which cannot write into the cache folder: stay root.
    [[ $(id -u) -eq 0 ]] && apt_opts+=(-o APT::Sandbox::User=root)
    for p in "${need_dl[@]}"; do
        has_candidate "$p" || die "$p: no such package in the apt lists (apt-cache policy $p)"
        say "$p: downloading"
        tmp=$(mktemp -d "$cache/.tmp/dl.XXXXXX")
        if ! (cd "$tmp" && apt-get download "${apt_opts[@]}" "$p"); then
            die "$p: apt-get download failed"
        fi
        f=$(find "$tmp" -maxdepth 1 -name "${p}_*.deb" -print -quit)
        [[ -n "$f" ]] || die "$p: apt-get download produced no .deb"
        dpkg-deb --info "$f" >/dev/null || die "$p: downloaded .deb is corrupt"
        find "$cache/debs" -maxdepth 1 -name "${p}_*.deb" -delete   # drop older versions
        mv "$f" "$cache/debs/"
        rm -rf "$tmp"; tmp=""
    done
fi

# ---------------------------------------------------------------- extract
unzip_to() {  # unzip_to ARCHIVE DIR
    if command -v python3 >/dev/null 2>&1; then
        python3 -m zipfile -e "$1" "$2"
    elif command -v unzip >/dev/null 2>&1; then
        unzip -q "$1" -d "$2"
    else
        die "need python3 or unzip to open $1"
    fi
}

for p in ${todo[@]+"${todo[@]}"}; do
    deb=$(deb_of "$p")
    [[ -n "$deb" ]] || die "$p: no .deb in $cache/debs"
    say "$p: extracting $(basename "$deb")"
    tmp=$(mktemp -d "$cache/.tmp/x.XXXXXX")
    dpkg-deb -x "$deb" "$tmp/pkg"
    while IFS= read -r -d '' z; do
        say "$p: unpacking $(basename "$z")"
        unzip_to "$z" "$z.d"
        rm -f "$z"
    done < <(find "$tmp/pkg" -type f -iname '*.pk3' -print0)

    # shellcheck disable=SC2206  # the glob in root[] is meant to expand
    srcs=("$tmp"/pkg/${root[$p]})
    [[ ${#srcs[@]} -eq 1 && -d "${srcs[0]}" ]] \
        || die "$p: expected one folder ${root[$p]} in the package, found: ${srcs[*]#$tmp/pkg/}"
    src=${srcs[0]}
    out="$tmp/out"
    mkdir -p "$out"
    n=0
    while IFS= read -r -d '' f; do
        rel=${f#"$src"/}
        [[ "${rel,,}" =~ $audio_re ]] || continue
        mkdir -p "$out/$(dirname "$rel")"
        mv "$f" "$out/$rel"
        n=$((n + 1))
    done < <(find "$src" -type f -print0)
    [[ $n -gt 0 ]] || die "$p: no audio files under ${root[$p]}"

    dest=$(dest_of "$p")
    rm -f "$cache/stamps/$p.done"
    rm -rf "$dest"
    mv "$out" "$dest"
    basename "$deb" >"$cache/stamps/$p.done"
    rm -rf "$tmp"; tmp=""
    say "$p: $n audio files -> ${dest#"$cache"/}"
done
rmdir "$cache/.tmp" 2>/dev/null || true

# ---------------------------------------------------------------- summary
py=""
for c in "${PYTHON:-}" "$repo/.venv/bin/python" python3; do
    [[ -n "$c" ]] && command -v "$c" >/dev/null 2>&1 || continue
    if "$c" -c 'import soundfile' >/dev/null 2>&1; then py=$c; break; fi
done

echo
if [[ -n "$py" ]]; then
    "$py" - "$cache" "${packages[@]}" <<'EOF'
import os, re, sys
from collections import Counter
import soundfile as sf

cache, pkgs = sys.argv[1], sys.argv[2:]
audio = re.compile(r"\.(ogg|oga|opus|flac|wav|aif|aiff|mp3|m4a)$", re.I)

def files(d):
    for dp, _, fs in os.walk(d):
        for f in sorted(fs):
            if audio.search(f):
                yield os.path.join(dp, f)

def scan(d):
    n, secs, fmts, rates, chans, bad = 0, 0.0, Counter(), Counter(), Counter(), []
    for f in files(d):
        n += 1
        try:
            i = sf.info(f)
        except Exception as e:  # noqa: BLE001 - report, don't stop
            bad.append(f"{os.path.relpath(f, cache)}: {e}")
            continue
        secs += i.frames / i.samplerate
        fmts[f"{i.format}/{i.subtype}"] += 1
        rates[i.samplerate] += 1
        chans[i.channels] += 1
    return n, secs, fmts, rates, chans, bad

def fmt(c):
    return " ".join(f"{k}:{v}" for k, v in sorted(c.items(), key=lambda kv: str(kv[0])))

allbad = []
print(f"{'package':<24} {'files':>6} {'hours':>7}  formats | sample rates | channels")
tot_n = tot_s = 0
for p in pkgs:
    if p == "hydrogen-drumkits":
        continue
    n, s, f, r, c, bad = scan(os.path.join(cache, "music", p))
    tot_n += n; tot_s += s; allbad += bad
    print(f"{p:<24} {n:>6} {s / 3600:>7.2f}  {fmt(f)} | {fmt(r)} | {fmt(c)}")
print(f"{'music total':<24} {tot_n:>6} {tot_s / 3600:>7.2f}")
drums = os.path.join(cache, "drums")
if os.path.isdir(drums):
    print()
    print(f"{'drum kit':<24} {'files':>6} {'minutes':>7}  formats | sample rates | channels")
    tot_n = tot_s = 0
    for kit in sorted(os.listdir(drums)):
        n, s, f, r, c, bad = scan(os.path.join(drums, kit))
        tot_n += n; tot_s += s; allbad += bad
        print(f"{kit:<24} {n:>6} {s / 60:>7.2f}  {fmt(f)} | {fmt(r)} | {fmt(c)}")
    print(f"{'drums total':<24} {tot_n:>6} {tot_s / 60:>7.2f}")
if allbad:
    print(f"\n{len(allbad)} files soundfile cannot open:")
    for b in allbad:
        print("  " + b)
EOF
else
    echo "(no python with soundfile found -- set PYTHON=... for durations; counts only)"
    printf '%-24s %6s\n' package files
    for p in "${packages[@]}"; do
        n=$(find "$(dest_of "$p")" -type f -regextype posix-extended -iregex ".*$audio_re" | wc -l)
        printf '%-24s %6d\n' "$p" "$n"
    done
fi
echo
say "done: $(du -sh "$cache/music" | cut -f1) in music/, $(du -sh "$cache/drums" | cut -f1) in drums/ ($cache)"
