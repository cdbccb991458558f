#!/usr/bin/env bash
# Builds torchkd against a CUDA libtorch and runs the device-generic suite with tensors on cuda.
# On a CUDA machine with PyTorch but no Node.js (see DEVELOPERS.md): `source .gpu/env.sh` first, which
# exports LIBTORCH (PyTorch's libtorch) and puts Node on PATH. Fails when CUDA is not available.
set -euo pipefail
cd "$(dirname "$0")/.."
node scripts/build.mjs --force
node dist/cli.js doctor
node -e "if (!require('./dist').torch.cuda.isAvailable()) { console.error('CUDA is not available'); process.exit(1); }"
TORCHKD_TEST_DEVICE=${TORCHKD_TEST_DEVICE:-cuda} npx vitest run test/tensor.test.ts test/memory.test.ts test/errors.test.ts \
  test/worker.test.ts test/parity.test.ts test/autograd.test.ts "$@"
