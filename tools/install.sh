#!/usr/bin/env bash
# One-command installation of relnas_mm and its OpenMMLab 2.x stack into a
# virtual environment (default: .venv in the repository root).
#
#   bash tools/install.sh
#
# Environment variables:
#   RELNAS_VENV   path of the virtual environment      (default: <repo>/.venv)
#   RELNAS_CACHE  cache folder for the built mmcv wheel (default: ~/.cache/relnas_mm)
#   PYTHON        interpreter used to create the venv  (default: python3, >= 3.9)
#   MAX_JOBS      parallel compile jobs for mmcv's ops  (default: nproc)
#   FORCE_CUDA=1  build mmcv's CUDA ops too (needs nvcc; set TORCH_CUDA_ARCH_LIST)
#
# Idempotent: each step is skipped when its result is already installed at the
# right version (and importable), so a second run only checks and verifies.
#
# Why some steps are special (see requirements/mminstall.txt):
#   * mmcv 2.1.0 has no wheels for torch >= 2.5, so it is built from the PyPI
#     sdist with its compiled ops (-std=c++20 for torch >= 2.10's headers,
#     setuptools<82 because its setup.py imports pkg_resources,
#     --no-build-isolation so that the build sees torch). The wheel is built
#     once and cached under $RELNAS_CACHE/wheels/, keyed by Python and torch.
#   * mmpose 1.3.2 goes in with --no-deps (chumpy does not build on py>=3.11).
#   * xtcocotools is rebuilt from source so that it imports under numpy 2.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
VENV="${RELNAS_VENV:-$ROOT/.venv}"
CACHE="${RELNAS_CACHE:-$HOME/.cache/relnas_mm}"
JOBS="${MAX_JOBS:-$(nproc)}"
REQ="$ROOT/requirements"

T_START=$SECONDS
STEP_START=$SECONDS
NSTEPS=9
STEP_NO=0

step() {  # step "description"
    STEP_NO=$((STEP_NO + 1))
    STEP_START=$SECONDS
    printf '[%d/%d] %s ... ' "$STEP_NO" "$NSTEPS" "$1"
}
done_step() {  # done_step "done|skipped (...)"
    printf '%s (%ds, total %ds)\n' "${1:-done}" \
        $((SECONDS - STEP_START)) $((SECONDS - T_START))
}
die() { echo; echo "install.sh: ERROR: $*" >&2; exit 1; }

# run CMD...: append CMD's output to the log; on failure show its tail and stop.
run() {
    echo "+ $*" >>"$LOG"
    if ! "$@" >>"$LOG" 2>&1; then
        echo "FAILED"
        echo "---- last lines of $LOG ----" >&2
        tail -n 40 "$LOG" >&2
        die "command failed: $*"
    fi
}

# Requirement lines of a requirements file (comments, blanks and -r dropped),
# optionally without the packages whose names match an extended regex.
req_lines() {  # req_lines FILE [EXCLUDE_REGEX]
    sed -e 's/#.*//' -e 's/[[:space:]]*$//' -e '/^[[:space:]]*$/d' -e '/^-/d' "$1" |
        { if [[ -n "${2:-}" ]]; then grep -Eiv "^($2)([^A-Za-z0-9_.-]|$)" || true; else cat; fi; }
}
# Pinned version of PKG in FILE (PKG==X.Y.Z).
pin() { sed -n -E "s/^$2==([^ ;#]+).*/\1/p" "$1" | head -n 1; }

# satisfied REQ...: true when every requirement is installed at a matching version.
satisfied() {
    "$PY" - "$@" <<'PYEOF'
import sys
from importlib import metadata
try:
    from packaging.requirements import Requirement
except ImportError:
    from pip._vendor.packaging.requirements import Requirement
for line in sys.argv[1:]:
    req = Requirement(line)
    if req.marker is not None and not req.marker.evaluate():
        continue
    try:
        version = metadata.version(req.name)
    except metadata.PackageNotFoundError:
        sys.exit(1)
    if not req.specifier.contains(version, prereleases=True):
        sys.exit(1)
PYEOF
}
satisfied_file() {  # satisfied_file FILE [EXCLUDE_REGEX]
    local lines=()
    mapfile -t lines < <(req_lines "$@")
    ((${#lines[@]} == 0)) || satisfied "${lines[@]}"
}

TORCH_VER="$(pin "$REQ/runtime.txt" torch)"
TV_VER="$(pin "$REQ/runtime.txt" torchvision)"
MMENGINE_VER="$(pin "$REQ/runtime.txt" mmengine)"
MMCV_VER="$(pin "$REQ/mminstall.txt" mmcv)"
MMPOSE_VER="$(pin "$REQ/mminstall.txt" mmpose)"
XTCOCO_REQ="$(req_lines "$REQ/mminstall.txt" | grep -Ei '^xtcocotools' || echo xtcocotools)"
[[ -n "$TORCH_VER" && -n "$TV_VER" && -n "$MMENGINE_VER" && -n "$MMCV_VER" && -n "$MMPOSE_VER" ]] ||
    die "could not read the torch/torchvision/mmengine/mmcv/mmpose pins from requirements/"

echo "relnas_mm install: venv=$VENV cache=$CACHE jobs=$JOBS"

# --------------------------------------------------------------------------
step "virtual environment"
if [[ -x "$VENV/bin/python" ]]; then
    PY="$VENV/bin/python"
    LOG="$VENV/relnas_install.log"; : >"$LOG"
    done_step "reused"
else
    "${PYTHON:-python3}" -m venv "$VENV" || die "could not create the venv at $VENV"
    PY="$VENV/bin/python"
    LOG="$VENV/relnas_install.log"; : >"$LOG"
    done_step "created"
fi
"$PY" -c 'import sys; assert sys.version_info >= (3, 9), sys.version' ||
    die "relnas_mm needs Python >= 3.9 ($VENV/bin/python is older)"
PIP=("$PY" -m pip --disable-pip-version-check --no-input)
PY_TAG="$("$PY" -c 'import sys; print("py%d.%d" % sys.version_info[:2])')"
echo "    python: $("$PY" -c 'import sys; print(sys.version.split()[0])') ($PY), log: $LOG"

# Pins that every later pip call must respect (keeps torch/mmcv untouched).
PINS="$VENV/relnas_pins.txt"
# setuptools<82: mmcv's setup.py imports pkg_resources (gone in 82), and torch
# would otherwise pull the newest setuptools.
printf '%s\n' "torch==$TORCH_VER" "torchvision==$TV_VER" \
    "mmengine==$MMENGINE_VER" "mmcv==$MMCV_VER" "setuptools<82" >"$PINS"

# --------------------------------------------------------------------------
step "build tools (setuptools<82, wheel, cython, ninja)"
BUILD_REQS=("setuptools>=64,<82" "wheel" "cython>=3" "ninja")
if satisfied "${BUILD_REQS[@]}"; then
    done_step "skipped (present)"
else
    run "${PIP[@]}" install "${BUILD_REQS[@]}" -c "$PINS"
    done_step
fi

# --------------------------------------------------------------------------
step "runtime: torch==$TORCH_VER torchvision==$TV_VER mmengine==$MMENGINE_VER (requirements/runtime.txt)"
if satisfied_file "$REQ/runtime.txt"; then
    done_step "skipped (present)"
else
    run "${PIP[@]}" install -r "$REQ/runtime.txt" -c "$PINS"
    done_step
fi

# --------------------------------------------------------------------------
step "mmcv==$MMCV_VER with compiled ops"
mmcv_ok() {
    "$PY" -c "import torch, mmcv, mmcv._ext; assert mmcv.__version__ == '$MMCV_VER', mmcv.__version__" \
        >/dev/null 2>&1
}
if mmcv_ok; then
    done_step "skipped (importable with ops)"
else
    # Cache key: mmcv version, Python version, torch version and CPU/CUDA flavour.
    FLAVOUR="$("$PY" -c '
import os, torch
cuda = torch.cuda.is_available() or os.environ.get("FORCE_CUDA", "0") == "1"
print("cuda" + (torch.version.cuda or "") if cuda else "cpu")')"
    TORCH_INSTALLED="$("$PY" -c 'import torch; print(torch.__version__.split("+")[0])')"
    WHEEL_DIR="$CACHE/wheels/mmcv-$MMCV_VER-$PY_TAG-torch$TORCH_INSTALLED-$FLAVOUR"
    mkdir -p "$WHEEL_DIR"
    find_wheel() { find "$WHEEL_DIR" -maxdepth 1 -name "mmcv-$MMCV_VER-*.whl" | head -n 1; }
    {
        # Serialise concurrent installs that share the cache (e.g. CI + a user).
        command -v flock >/dev/null && flock 9
        WHEEL="$(find_wheel)"
        if [[ -z "$WHEEL" ]]; then
            printf '\n    no cached wheel in %s: building from source (about 7-8 min with 2 cores) ... ' "$WHEEL_DIR"
            BUILD_TMP="$(mktemp -d "${TMPDIR:-/tmp}/relnas-mmcv.XXXXXX")"
            trap 'rm -rf "$BUILD_TMP"' EXIT
            run "${PIP[@]}" download --no-deps --no-binary mmcv --no-build-isolation \
                -d "$BUILD_TMP/sdist" "mmcv==$MMCV_VER"
            SDIST="$(find "$BUILD_TMP/sdist" -name "mmcv-$MMCV_VER.tar.gz" | head -n 1)"
            [[ -n "$SDIST" ]] || die "mmcv sdist not downloaded"
            tar -xzf "$SDIST" -C "$BUILD_TMP"
            SRC="$BUILD_TMP/mmcv-$MMCV_VER"
            # torch >= 2.10's headers need C++20; mmcv hard-codes c++14/17.
            sed -i -E 's/-std=c\+\+1[147]/-std=c++20/g' "$SRC/setup.py"
            ! grep -Eq -- '-std=c\+\+1[147]' "$SRC/setup.py" || die "could not patch mmcv's -std flags"
            run env MMCV_WITH_OPS=1 MAX_JOBS="$JOBS" "${PIP[@]}" wheel --no-build-isolation --no-deps \
                -w "$BUILD_TMP/wheel" "$SRC"
            BUILT="$(find "$BUILD_TMP/wheel" -name "mmcv-$MMCV_VER-*.whl" | head -n 1)"
            [[ -n "$BUILT" ]] || die "mmcv wheel was not built"
            cp "$BUILT" "$WHEEL_DIR/.partial.whl"
            mv "$WHEEL_DIR/.partial.whl" "$WHEEL_DIR/$(basename "$BUILT")"
            rm -rf "$BUILD_TMP"
            trap - EXIT
            WHEEL="$(find_wheel)"
        else
            printf '\n    using cached wheel %s ... ' "$WHEEL"
        fi
    } 9>"$CACHE/wheels/.lock"
    # Replace whatever mmcv may be there (e.g. one without ops), then its deps.
    run "${PIP[@]}" install --no-deps --force-reinstall "$WHEEL"
    run "${PIP[@]}" install "$WHEEL" -c "$PINS"
    mmcv_ok || die "mmcv was installed but 'import mmcv._ext' fails (see $LOG)"
    done_step
fi

# --------------------------------------------------------------------------
step "mmdet, mmsegmentation (+ftfy, regex) and mmpose's dependencies (requirements/mminstall.txt)"
# mmcv: done above; mmpose: --no-deps below; xtcocotools: from source below.
SPECIAL='mmcv|mmpose|xtcocotools'
if satisfied_file "$REQ/mminstall.txt" "$SPECIAL"; then
    done_step "skipped (present)"
else
    mapfile -t MM_REQS < <(req_lines "$REQ/mminstall.txt" "$SPECIAL")
    run "${PIP[@]}" install "${MM_REQS[@]}" -c "$PINS"
    done_step
fi

# --------------------------------------------------------------------------
step "xtcocotools built from source (numpy 2 ABI)"
if "$PY" -c 'import xtcocotools.coco, xtcocotools._mask' >/dev/null 2>&1 && satisfied "$XTCOCO_REQ"; then
    done_step "skipped (importable)"
else
    # The PyPI wheel is compiled against numpy 1.x ("numpy.dtype size changed").
    run "${PIP[@]}" install --no-binary xtcocotools --no-build-isolation \
        --force-reinstall --no-deps "$XTCOCO_REQ"
    run "${PIP[@]}" install "$XTCOCO_REQ" -c "$PINS"
    "$PY" -c 'import xtcocotools.coco' >>"$LOG" 2>&1 || die "xtcocotools does not import (see $LOG)"
    done_step
fi

# --------------------------------------------------------------------------
step "mmpose==$MMPOSE_VER (--no-deps: its chumpy dependency is never imported)"
if satisfied "mmpose==$MMPOSE_VER"; then
    done_step "skipped (present)"
else
    run "${PIP[@]}" install --no-deps "mmpose==$MMPOSE_VER"
    done_step
fi

# --------------------------------------------------------------------------
step "optional and test requirements (requirements/optional.txt, tests.txt)"
if satisfied_file "$REQ/optional.txt" && satisfied_file "$REQ/tests.txt"; then
    done_step "skipped (present)"
else
    run "${PIP[@]}" install -r "$REQ/optional.txt" -r "$REQ/tests.txt" -c "$PINS"
    done_step
fi

# --------------------------------------------------------------------------
step "relnas_mm (editable: pip install -e .)"
editable_ok() {
    "$PY" - "$ROOT" <<'PYEOF' >/dev/null 2>&1
import json, sys
from importlib import metadata
from pathlib import Path
dist = metadata.distribution("relnas_mm")
info = json.loads(dist.read_text("direct_url.json") or "{}")
assert info.get("dir_info", {}).get("editable"), info
url = info["url"]
assert url.startswith("file://") and Path(url[len("file://"):]).resolve() == Path(sys.argv[1]).resolve(), url
PYEOF
}
if editable_ok; then
    done_step "skipped (already installed from $ROOT)"
else
    run "${PIP[@]}" install --no-build-isolation --use-pep517 --no-deps -e "$ROOT"
    done_step
fi

# --------------------------------------------------------------------------
echo "verifying imports ..."
"$PY" - <<'PYEOF'
import numpy, torch
import mmcv, mmcv.ops
from mmcv.ops import batched_nms, nms
import mmengine, mmdet, mmseg, mmpose
import mmdet.models, mmseg.models, mmpose.models
import xtcocotools.coco
print(f"    torch {torch.__version__}, numpy {numpy.__version__}, mmengine {mmengine.__version__}, "
      f"mmcv {mmcv.__version__} (ops), mmdet {mmdet.__version__}, mmseg {mmseg.__version__}, "
      f"mmpose {mmpose.__version__}")
PYEOF
"$PY" -c 'import relnas_mm' || die "'import relnas_mm' failed"
echo "relnas_mm installed in $VENV in $((SECONDS - T_START))s. Python: $VENV/bin/python"
