#!/usr/bin/env bash
# Builds torchkd against a CUDA libtorch, runs the device-generic suite with tensors on cuda, then the
# demo and the text command with --device cuda.
# On a CUDA machine with PyTorch but no Node.js (see DEVELOPERS.md): `source .gpu/env.sh` first, which
# exports LIBTORCH (PyTorch's libtorch) and puts Node on PATH. Fails when CUDA is not available.
set -euo pipefail
cd "$(dirname "$0")/.."
node scripts/build.mjs --force
node dist/cli.js doctor
node -e "if (!require('./dist').torch.cuda.isAvailable()) { console.error('CUDA is not available'); process.exit(1); }"
TORCHKD_TEST_DEVICE=${TORCHKD_TEST_DEVICE:-cuda} npx vitest run test/tensor.test.ts test/memory.test.ts test/errors.test.ts \
  test/worker.test.ts test/parity.test.ts test/autograd.test.ts "$@"
# The trainer end to end on the GPU: a reduced demo (training, checkpoints with the CUDA RNG state,
# evaluation, latency) and the text command on a synthetic intent set.
out=$(mktemp -d)
node dist/cli.js demo --device cuda --out "$out/demo" --cache-dir "$out/cache" --teacher-samples 5000 \
  --labelled 500 --transfer 5000 --test 2000 --student-epochs 2 --progress lines
node scripts/synth-intents.mjs "$out/intents"
node dist/cli.js text --device cuda --train "$out/intents/train.jsonl" --test "$out/intents/test.jsonl" \
  --out "$out/text" --epochs 2 --progress lines
