#!/usr/bin/env bash
# The libtorch matrix: the whole test suite against each libtorch torchkd promises to build with, each leg
# in its own copy of the tree (its own build/ and build-gyp/), run after `npm test` (the default leg:
# torchkd's venv with torch==2.13.0+cpu) by .ci/run.
#   debian-1.13    Debian's libtorch-dev 1.13.1 (LIBTORCH=/usr); parity against python3-torch (/usr/bin/python3)
#   pip-2.14-cuda  torch==2.14.1, the CUDA 13 wheel with its nvidia-* wheels, in a venv: a CUDA build
#                  (TORCHKD_CUDA, libtorch_cuda) on a machine without a GPU; parity against the venv's python
#   package        npm pack, then npm install of the tarball in a new project: the addon builds on its own
#                  against whatever discovery finds, and the package works
# The copies are kept in $TORCHKD_MATRIX_DIR (default $TORCHKD_HOME/matrix, $TORCHKD_HOME defaulting to
# ~/.cache/torchkd) and the CUDA venv in $TORCHKD_HOME, so later runs only rebuild what changed. Each leg
# prints its wall time.
#   scripts/test-matrix.sh [leg ...]        (default: all legs)
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
home="${TORCHKD_HOME:-${XDG_CACHE_HOME:-$HOME/.cache}/torchkd}"
cache="${TORCHKD_MATRIX_DIR:-$home/matrix}"
mkdir -p "$cache"
legs=("$@")
[ ${#legs[@]} -eq 0 ] && legs=(debian-1.13 pip-2.14-cuda package)

log() { echo "[matrix] $*"; }

# A copy of the working tree's files (tracked and untracked, not ignored) in $1/src, keeping its build
# folders from the last run of the same checkout; node_modules is the repository's own.
copy_tree() {
  local src="$1/src"
  mkdir -p "$src"
  # The kept build folders hold absolute paths into the repository's node_modules (cmake-js's header
  # folders): built from another checkout, they are stale, so they go.
  if [ "$(cat "$1/repo" 2>/dev/null)" != "$repo" ]; then
    rm -rf "$src/build" "$src/build-gyp" "$src/dist"
    echo "$repo" > "$1/repo"
  fi
  find "$src" -mindepth 1 -maxdepth 1 ! -name build ! -name build-gyp ! -name dist ! -name node_modules -exec rm -rf {} +
  (cd "$repo" && git ls-files -co --exclude-standard -z | xargs -0 tar -cf - 2>/dev/null) | tar -xf - -C "$src"
  ln -sfn "$repo/node_modules" "$src/node_modules"
}

# The CUDA wheel. Where pip's indexes lack its Python-only dependencies (cuda-bindings and triton, which
# libtorch does not use), its other dependencies are installed explicitly.
cuda_venv() {
  local venv="$home/venv-torch-2.14.1"
  local stamp="$venv/.torchkd-ok"
  [ -f "$stamp" ] && return 0
  rm -rf "$venv"
  python3 -m venv "$venv"
  local pip=("$venv/bin/python" -m pip install -q --disable-pip-version-check --retries 1)
  if ! "${pip[@]}" torch==2.14.1 numpy 2>"$cache/pip-2.14.log"; then
    log "pip install torch==2.14.1 failed ($(grep -m1 ERROR "$cache/pip-2.14.log" || true)); installing it without its Python-only dependencies"
    "${pip[@]}" --no-deps torch==2.14.1 2>>"$cache/pip-2.14.log"
    "${pip[@]}" filelock 'typing-extensions>=4.10.0' 'setuptools>=77.0.3' 'sympy>=1.13.3' networkx jinja2 fsspec numpy \
      'cuda-toolkit[cublas,cudart,cufft,cufile,cupti,curand,cusolver,cusparse,nvjitlink,nvrtc,nvtx]==13.0.3' \
      nvidia-cudnn-cu13==9.24.0.43 nvidia-cusparselt-cu13==0.8.1 nvidia-nccl-cu13==2.30.7 nvidia-nvshmem-cu13==3.4.5 \
      2>>"$cache/pip-2.14.log"
  fi
  "$venv/bin/python" -c 'import torch; assert torch.__version__.startswith("2.14.1"), torch.__version__'
  touch "$stamp"
}

leg_debian() {
  node "$repo/scripts/setup.mjs" --dev --system-libtorch
  copy_tree "$cache/debian-1.13"
  (cd "$cache/debian-1.13/src" && LIBTORCH=/usr npm test)
}

leg_cuda() {
  cuda_venv
  local torch_dir
  torch_dir="$("$home/venv-torch-2.14.1/bin/python" -c 'import os, torch; print(os.path.dirname(torch.__file__))')"
  copy_tree "$cache/pip-2.14-cuda"
  (cd "$cache/pip-2.14-cuda/src" && LIBTORCH="$torch_dir" npm test)
}

leg_package() {
  local dir="$cache/package"
  rm -rf "$dir" && mkdir -p "$dir/project"
  (cd "$repo" && npm pack --silent --pack-destination "$dir" >/dev/null)
  cd "$dir/project"
  npm init -y >/dev/null
  npm install --no-audit --no-fund "$dir"/torchkd-*.tgz
  node -e "
    const { torch } = require('torchkd');
    const a = torch.tensor([[1, 2], [3, 4]], { dtype: 'float32' });
    const out = JSON.stringify(a.matmul(a).toArray());
    if (out !== '[[7,10],[15,22]]') throw new Error('wrong result ' + out);
    console.log('[matrix] the installed package computes', out);"
  npx torchkd doctor
}

status=0
for leg in "${legs[@]}"; do
  start=$SECONDS
  log "leg $leg"
  case "$leg" in
    debian-1.13) fn=leg_debian ;;
    pip-2.14-cuda) fn=leg_cuda ;;
    package) fn=leg_package ;;
    *) log "unknown leg $leg (debian-1.13 | pip-2.14-cuda | package)"; exit 2 ;;
  esac
  if ( $fn ); then result=passed; else result=FAILED; status=1; fi
  log "leg $leg $result in $((SECONDS - start)) s"
done
exit $status
