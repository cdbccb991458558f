// The commands' flags and help texts (no native code is loaded to print help or to reject bad flags).
import type { CommandSpec } from './args';

export const TEXT_DEFAULTS = {
  out: 'text-output', textField: 'text', labelField: 'label', teacherEpochs: 8, studentEpochs: 15, batchSize: 64, maxLength: 32,
  minFreq: 1, teacherKind: 'ensemble' as 'ensemble' | 'transformer', teacherDim: 128, teacherLayers: 2, teacherHeads: 4, teacherLr: 1e-3,
  studentDim: 16, studentBigrams: 4096, studentLr: 0.03, temperature: 2, alpha: 0.5, seed: 0, device: 'cpu',
  progress: 'auto' as 'auto' | 'bar' | 'lines' | 'none',
};

/** The defaults that differ with a Hugging Face teacher (--teacher DIR), and its own options. */
export const HF_TEXT_DEFAULTS = {
  teacherEpochs: 3, studentEpochs: 5, teacherLr: 5e-5, studentLr: 1e-4, finetuneTeacher: false, layerMap: 'skip',
  hiddenLoss: 'mse' as 'mse' | 'cosine', hiddenWeight: 1, attentionWeight: 0, twoStage: false, spectralSamples: 256,
};

export const textSpec: CommandSpec = {
  name: 'text',
  summary: 'Train (or bring, as a Hugging Face folder) a text-classification teacher, distill a small student from it, and compare with the student trained from labels only.',
  usage: 'text --train FILE --test FILE [--valid FILE] [--teacher DIR] [--out DIR] [options]',
  description: `
Input files are JSONL lines {"text": "...", "label": "..."} (or CSV with a header; see --format). Labels of
--test and --valid must occur in --train. Without --valid, 10% of --train (seeded) is held out to choose
each model's best epoch. The teacher is an ensemble (mean probabilities) of a Transformer encoder
(TextTransformer) and a wide fastText-like model (4x the student's width and bigram buckets, dropout
0.2; --teacher-kind transformer for the encoder alone), the student a fastText-like bag of embeddings
(FastText) trained with (1 - alpha)·CE + alpha·KD(T); "scratch" is the same student trained with CE
only and the same budget. Writes OUT/metrics.json ({teacher, student, scratch}:
test accuracy and parameters), OUT/report.html, OUT/vocab.json, OUT/labels.json and OUT/<run>/
(checkpoints, metrics.jsonl, model.safetensors, arch.json).

With --teacher DIR (a Hugging Face BERT, RoBERTa, XLM-R or DistilBERT classifier folder: config.json,
weights, tokenizer.json), texts are tokenized by the teacher's tokenizer and the student is a transformer
of the teacher's family: cut from the teacher (--student-layers N, default half its layers, initialised
from the teacher layers the layer map points to) or fresh (--student-config 4x312 or a JSON file of
config fields, with a learned projection to the teacher's width). It learns (1 - alpha)·CE + alpha·KD(T)
+ hidden-weight·(masked hidden-state MSE over --layer-map) [+ attention-weight·(masked attention-map MSE)];
"scratch" is the same student from the same weights trained with CE only. --layer-map: skip (every k-th
layer), average (groups averaged), weighted:0.3,0.7 (groups weighted), uniform (TinyBERT, embeddings
included), last (the last layers), spectral[:top=K|:threshold=X|:edges[=K]] (the teacher layers with the
highest spectral intensity on a sample of the training texts; edges: the leading and trailing runs of a
U-shaped profile). The teacher, student and scratch are written as Hugging Face folders in OUT/<run>/,
and the report plots the teacher's and the student's spectral profiles.`,
  flags: [
    { name: 'train', kind: 'file', required: true, description: 'training examples (JSONL or CSV)' },
    { name: 'test', kind: 'file', required: true, description: 'test examples, for the reported accuracies' },
    { name: 'valid', kind: 'file', description: 'validation examples for model selection (default: 10% of --train)' },
    { name: 'out', kind: 'path', placeholder: 'DIR', default: TEXT_DEFAULTS.out, description: 'output directory' },
    { name: 'format', kind: 'choice', choices: ['jsonl', 'csv'], description: 'input format (default: from the file extension)' },
    { name: 'text-field', kind: 'string', placeholder: 'KEY', default: TEXT_DEFAULTS.textField, description: 'JSON key / CSV column of the text' },
    { name: 'label-field', kind: 'string', placeholder: 'KEY', default: TEXT_DEFAULTS.labelField, description: 'JSON key / CSV column of the label' },
    { name: 'teacher', kind: 'path', placeholder: 'DIR', description: 'a Hugging Face classifier folder as the teacher (default: train a TextTransformer)' },
    { name: 'finetune-teacher', kind: 'boolean', description: 'fine-tune the --teacher on the training set first (needed when its head is not for these labels)' },
    { name: 'student-layers', kind: 'int', min: 1, description: 'with --teacher: a student cut from it with N layers (default: half the teacher\'s)' },
    { name: 'student-config', kind: 'string', placeholder: 'LxH[xA]|FILE', description: 'with --teacher: a fresh student, e.g. 4x312 (layers x hidden [x heads]) or a JSON file of config fields' },
    { name: 'layer-map', kind: 'string', placeholder: 'MAP', description: `with --teacher: skip, average, weighted:W1,W2, uniform, last, spectral[:top=K|:threshold=X|:edges[=K]] (default: ${HF_TEXT_DEFAULTS.layerMap})` },
    { name: 'hidden-loss', kind: 'choice', choices: ['mse', 'cosine'], description: `with --teacher: the hidden-state loss (default: ${HF_TEXT_DEFAULTS.hiddenLoss})` },
    { name: 'hidden-weight', kind: 'number', min: 0, description: `with --teacher: weight of the hidden-state term, 0 for none (default: ${HF_TEXT_DEFAULTS.hiddenWeight})` },
    { name: 'attention-weight', kind: 'number', min: 0, description: `with --teacher: weight of the attention-map term (default: ${HF_TEXT_DEFAULTS.attentionWeight}: none)` },
    { name: 'two-stage', kind: 'boolean', description: 'with --teacher: TinyBERT\'s stages: intermediate layers for the first half of the student epochs, then KD on the predictions' },
    { name: 'spectral-samples', kind: 'int', min: 1, description: `with --teacher: training texts sampled for the spectral profiles (default: ${HF_TEXT_DEFAULTS.spectralSamples})` },
    { name: 'epochs', kind: 'int', min: 1, description: `epochs of each of the three runs (default: ${TEXT_DEFAULTS.teacherEpochs} for the teacher, ${TEXT_DEFAULTS.studentEpochs} for the students; ${HF_TEXT_DEFAULTS.teacherEpochs} and ${HF_TEXT_DEFAULTS.studentEpochs} with --teacher)` },
    { name: 'teacher-epochs', kind: 'int', min: 1, description: `epochs of the teacher (default: --epochs, else ${TEXT_DEFAULTS.teacherEpochs}; ${HF_TEXT_DEFAULTS.teacherEpochs} with --finetune-teacher)` },
    { name: 'student-epochs', kind: 'int', min: 1, description: `epochs of the distilled and the scratch student (default: --epochs, else ${TEXT_DEFAULTS.studentEpochs}; ${HF_TEXT_DEFAULTS.studentEpochs} with --teacher)` },
    { name: 'batch-size', kind: 'int', min: 1, default: TEXT_DEFAULTS.batchSize, description: 'training batch size' },
    { name: 'max-length', kind: 'int', min: 1, default: TEXT_DEFAULTS.maxLength, description: 'tokens kept per text' },
    { name: 'min-freq', kind: 'int', min: 1, default: TEXT_DEFAULTS.minFreq, description: 'rarer training words become <unk>' },
    { name: 'teacher-kind', kind: 'choice', choices: ['ensemble', 'transformer'], default: TEXT_DEFAULTS.teacherKind, description: 'without --teacher: the TextTransformer and a wide FastText averaged (ensemble), or the TextTransformer alone (ignored with --teacher)' },
    { name: 'teacher-dim', kind: 'int', min: 1, default: TEXT_DEFAULTS.teacherDim, description: 'teacher width' },
    { name: 'teacher-layers', kind: 'int', min: 1, default: TEXT_DEFAULTS.teacherLayers, description: 'teacher encoder layers' },
    { name: 'teacher-heads', kind: 'int', min: 1, default: TEXT_DEFAULTS.teacherHeads, description: 'teacher attention heads (divide --teacher-dim)' },
    { name: 'teacher-lr', kind: 'number', min: 0, exclusiveMin: true, description: `teacher peak learning rate (AdamW, one-cycle; default: ${TEXT_DEFAULTS.teacherLr}, ${HF_TEXT_DEFAULTS.teacherLr} with --teacher)` },
    { name: 'student-dim', kind: 'int', min: 1, default: TEXT_DEFAULTS.studentDim, description: 'student embedding width' },
    { name: 'student-bigrams', kind: 'int', min: 0, default: TEXT_DEFAULTS.studentBigrams, placeholder: 'BUCKETS', description: 'hashed bigram buckets of the student (0: words only)' },
    { name: 'student-lr', kind: 'number', min: 0, exclusiveMin: true, description: `student peak learning rate (AdamW, one-cycle; default: ${TEXT_DEFAULTS.studentLr}, ${HF_TEXT_DEFAULTS.studentLr} with --teacher)` },
    { name: 'temperature', kind: 'number', min: 0, exclusiveMin: true, default: TEXT_DEFAULTS.temperature, placeholder: 'T', description: 'KD softmax temperature' },
    { name: 'alpha', kind: 'number', min: 0, max: 1, default: TEXT_DEFAULTS.alpha, description: 'weight of the KD term in [0, 1] (CE gets 1 - alpha)' },
    { name: 'seed', kind: 'int', min: 0, default: TEXT_DEFAULTS.seed, description: 'seed of the split, the shuffles and the initial weights' },
    { name: 'device', kind: 'device', default: TEXT_DEFAULTS.device, description: 'where to train' },
    { name: 'progress', kind: 'choice', choices: ['auto', 'bar', 'lines', 'none'], default: TEXT_DEFAULTS.progress, description: 'progress output on stderr' },
  ],
  examples: [
    'torchkd text --train intents/train.jsonl --test intents/test.jsonl --out runs/intents',
    'torchkd text --train train.csv --test test.csv --valid valid.csv --epochs 8 --student-bigrams 20000',
    'torchkd text --train intents/train.jsonl --test intents/test.jsonl --teacher roberta-intents --student-layers 4 --layer-map spectral:edges',
    'torchkd text --train intents/train.jsonl --test intents/test.jsonl --teacher bert-base --finetune-teacher --student-config 4x312 --layer-map uniform --two-stage',
  ],
};

export const distillSpec: CommandSpec = {
  name: 'distill',
  summary: 'Run a distillation described by a JSON configuration (data, teachers, student, loss terms, optimizer, schedule, trainer options).',
  usage: 'distill --config run.json [--out DIR] [options]',
  description: `
The configuration is a RunConfig (its type in lib/distill/config.ts documents every key), e.g.
  {"data": {"source": "fashion-mnist", "labelled": 2000, "transfer": 10000},
   "teachers": [{"arch": {"name": "cnn"}, "train": {"epochs": 3}}],
   "student": {"arch": {"name": "mlp", "hidden": [64]}},
   "terms": [{"type": "ce"}, {"type": "kd", "temperature": 4}],
   "optimizer": {"name": "adamw", "lr": 0.001}, "scheduler": {"name": "cosine"},
   "epochs": 5, "outDir": "runs/kd"}
Relative paths in it are relative to the file. Unknown keys and bad values are errors naming their JSON
path. The flags below override the file's values. Writes OUT/checkpoint-{last,best}.safetensors,
OUT/metrics.jsonl, OUT/metrics.json, OUT/model.safetensors + OUT/arch.json, OUT/config.json,
OUT/report.html, and OUT/teacher-i/ for teachers trained by the run.`,
  flags: [
    { name: 'config', kind: 'file', required: true, description: 'the run configuration (JSON)' },
    { name: 'out', kind: 'path', placeholder: 'DIR', description: 'output directory (overrides outDir; relative to the working directory)' },
    { name: 'epochs', kind: 'int', min: 1, description: 'overrides epochs (and drops maxSteps)' },
    { name: 'max-steps', kind: 'int', min: 1, description: 'overrides maxSteps (and drops epochs)' },
    { name: 'seed', kind: 'int', min: 0, description: 'overrides seed' },
    { name: 'device', kind: 'device', description: 'overrides device (default: the file\'s, else cpu)' },
    { name: 'progress', kind: 'choice', choices: ['auto', 'bar', 'lines', 'none'], description: 'overrides progress (default: the file\'s, else auto)' },
    { name: 'resume', kind: 'boolean', description: 'continue from OUT/checkpoint-last.safetensors (overrides resume)' },
    { name: 'distributed', kind: 'boolean', description: 'data-parallel over the ranks of torchkd run (overrides distributed)' },
    { name: 'check', kind: 'boolean', description: 'only validate the configuration and print it' },
  ],
  examples: [
    'torchkd distill --config runs/kd.json',
    'torchkd distill --config runs/kd.json --out runs/kd-seed1 --seed 1',
    'torchkd distill --config runs/kd.json --check',
    'torchkd run --nproc-per-node 2 node_modules/.bin/torchkd distill --config runs/kd.json --distributed',
  ],
};

export const spectralSpec: CommandSpec = {
  name: 'spectral',
  summary: 'Profile the spectral intensity of a model\'s layers on a data sample (SpectralKD layer selection).',
  usage: 'spectral (--model model.pt | --weights w.safetensors --arch arch.json) --data fashion-mnist|x.safetensors --layers a,b,c [options]',
  description: `
Each listed layer's output on the sample is transformed by a 1-D FFT along its channel axis; the mean
magnitude is the layer's intensity (distill.spectralIntensity). Layers are module paths of a torchkd model
(e.g. features.0, layers.1, encoder.layers.0) or output keys / tuple indices of a TorchScript model.
Prints a table (layer, shape, intensity, selected) and, with --out, writes DIR/spectral.json and the
plot DIR/spectral.svg.`,
  flags: [
    { name: 'model', kind: 'file', description: 'a TorchScript model (torch.jit.save)' },
    { name: 'weights', kind: 'file', description: 'safetensors weights of a built-in architecture (a state_dict or a torchkd checkpoint)' },
    { name: 'arch', kind: 'file', description: 'the architecture of --weights (arch.json, as torchkd text / distill write)' },
    { name: 'data', kind: 'string', placeholder: 'fashion-mnist|FILE', required: true, description: 'fashion-mnist (its test split), or a safetensors file of inputs' },
    { name: 'key', kind: 'string', default: 'x', description: 'the tensor of the safetensors --data file' },
    { name: 'layers', kind: 'list', required: true, description: 'the layers to profile, in depth order' },
    { name: 'samples', kind: 'int', min: 1, default: 256, description: 'samples drawn (seeded) from the data' },
    { name: 'layout', kind: 'choice', choices: ['auto', 'BCHW', 'NLH'], default: 'auto', description: 'feature layout; auto: 4-D BCHW, 3-D NLH, 2-D [B, C] as NLH with one position' },
    { name: 'select', kind: 'choice', choices: ['top', 'edges', 'threshold'], default: 'top', description: 'how to select layers (distill.selectLayers)' },
    { name: 'k', kind: 'number', min: 0, exclusiveMin: true, default: 2, description: 'layers selected (top, edges) or the fraction of the maximum (threshold)' },
    { name: 'out', kind: 'path', placeholder: 'DIR', description: 'write DIR/spectral.json and DIR/spectral.svg' },
    { name: 'seed', kind: 'int', min: 0, default: 0, description: 'seed of the sample' },
    { name: 'device', kind: 'device', default: 'cpu', description: 'where to run the model' },
  ],
  examples: [
    'torchkd spectral --weights runs/kd/model.safetensors --arch runs/kd/arch.json --data fashion-mnist --layers features.0,features.1',
    'torchkd spectral --model teacher.pt --data x.safetensors --layers 1,2,3 --out runs/profile',
  ],
};

export const demoSpec: CommandSpec = {
  name: 'demo',
  summary: 'The main job: a Fashion-MNIST teacher CNN, its spectral layer profile, and a small student trained four ways over several seeds on a few labels plus an unlabelled transfer set.',
  usage: 'demo [--out DIR] [options]',
  description: `
Trains (or reuses from --cache-dir) a teacher CNN on --teacher-samples images, profiles its layers
spectrally, then trains a student CNN four ways with the same data and steps, once per seed: labels only,
Hinton KD, KD + spectral feature alignment, KD + intra-distillation. Prints each method's test accuracy as
mean ± std over the seeds, and which differences between methods are larger than the seed-to-seed noise
(paired t-test, 95%). Writes OUT/metrics.json and OUT/report.html (spectral profiles, learning curves,
confusion matrices). The default size took 231 s on 2 idle cores with the teacher cached (the first run
also trains the teacher, about 36 minutes). --quick is the CI size; larger machines can raise
--seeds, --labelled, --transfer, --student-epochs and --student-width.`,
  flags: [
    { name: 'out', kind: 'path', placeholder: 'DIR', default: 'demo-output', description: 'output directory of metrics.json, report.html and the runs\' logs' },
    { name: 'device', kind: 'device', default: 'cpu', description: 'where to train' },
    { name: 'quick', kind: 'boolean', description: 'the CI size: 300 labelled + 1500 transfer samples, a 3000-image 1-epoch teacher, 2 seeds, 1000 test images (flags given explicitly still apply)' },
    { name: 'seeds', kind: 'int', min: 1, description: 'seeds per student method (default 3; --quick: 2)' },
    { name: 'labelled', kind: 'int', min: 1, description: 'labelled training samples of the students (default 1000)' },
    { name: 'transfer', kind: 'int', min: 0, description: 'unlabelled transfer samples of the students (default 15000)' },
    { name: 'test', kind: 'int', min: 1, description: 'test samples evaluated (default 10000)' },
    { name: 'teacher-epochs', kind: 'int', min: 1, description: 'teacher training epochs (default 10)' },
    { name: 'teacher-samples', kind: 'int', min: 1, description: 'teacher training images (default 55000)' },
    { name: 'student-epochs', kind: 'int', min: 1, description: 'student epochs over labelled + transfer samples (default 2)' },
    { name: 'student-width', kind: 'number', min: 0, exclusiveMin: true, description: 'student width multiplier (default 2: conv widths 16, 32, 64)' },
    { name: 'cache-dir', kind: 'path', placeholder: 'DIR', description: 'where the trained teacher is cached between runs (default: $XDG_CACHE_HOME/torchkd or ~/.cache/torchkd)' },
    { name: 'seed', kind: 'int', min: 0, default: 0, description: 'first seed (the runs use seed, seed + 1, ...; the teacher uses seed)' },
    { name: 'progress', kind: 'choice', choices: ['auto', 'bar', 'lines', 'none'], default: 'auto', description: 'progress output (none: only where the report is)' },
  ],
  examples: [
    'torchkd demo',
    'torchkd demo --quick --out /tmp/demo',
    'torchkd demo --seeds 5 --labelled 5000 --transfer 50000 --student-epochs 4 --device cuda',
  ],
};

export const doctorSpec: CommandSpec = {
  name: 'doctor',
  summary: 'libtorch version and path, how it was found, CUDA devices, BLAS, Node-API version.',
  usage: 'doctor',
  flags: [],
};

export const runSpec: CommandSpec = {
  name: 'run',
  summary: 'Launch a Node script on several processes for torch.distributed, as torchrun launches Python scripts.',
  usage: 'run [--nproc-per-node N] [--nnodes M --node-rank R --master-addr A --master-port P] script.js [args]',
  rest: 'script.js [args]',
  description: `
Starts --nproc-per-node processes of \`node script.js args\` with torchrun's environment: RANK (node rank ·
nproc + local rank), LOCAL_RANK, WORLD_SIZE (nnodes · nproc), LOCAL_WORLD_SIZE, GROUP_RANK (the node rank),
MASTER_ADDR, MASTER_PORT, TORCHELASTIC_RESTART_COUNT, TORCHELASTIC_RUN_ID and, with more than one process and
no value of your own, OMP_NUM_THREADS=1. In the script, torch.distributed.initProcessGroup() (env://) joins
them. Each line a rank prints is prefixed with [rankN]:. When a rank fails, the others are stopped (SIGTERM,
SIGKILL after 5 s) and torchkd run exits with the failed rank's exit code (128 + N for signal N), after
--max-restarts restarts of the whole group. On several nodes, run the same command on each with its
--node-rank and the same --master-addr/--master-port (node 0's address; rank 0 hosts the store there).`,
  flags: [
    { name: 'nproc-per-node', kind: 'string', placeholder: 'N|cpu|gpu|auto', default: '1', description: 'processes on this node: a count, one per CPU core, one per GPU, or auto (GPUs if any, else CPU cores)' },
    { name: 'nnodes', kind: 'int', min: 1, default: 1, description: 'number of nodes' },
    { name: 'node-rank', kind: 'int', min: 0, default: 0, description: 'this node\'s rank among the nodes' },
    { name: 'master-addr', kind: 'string', placeholder: 'HOST', default: '127.0.0.1', description: 'address of node 0, where rank 0 hosts the TCPStore' },
    { name: 'master-port', kind: 'int', min: 0, max: 65535, default: 29500, description: 'port of that store' },
    { name: 'standalone', kind: 'boolean', description: 'one node, on a free port of --master-addr (instead of --master-port)' },
    { name: 'max-restarts', kind: 'int', min: 0, default: 0, description: 'restarts of the whole group after a failure' },
    { name: 'no-node', kind: 'boolean', description: 'run the program itself instead of `node program` (e.g. a Python rank: --no-node python3 train.py)' },
  ],
  examples: [
    'torchkd run --nproc-per-node 2 train.js --epochs 3',
    'torchkd run --nproc-per-node 4 --nnodes 2 --node-rank 0 --master-addr 10.0.0.1 --master-port 29500 train.js',
    'torchkd run --standalone --nproc-per-node 2 node_modules/.bin/torchkd distill --config run.json',
  ],
};

export const COMMANDS: CommandSpec[] = [demoSpec, textSpec, distillSpec, spectralSpec, runSpec, doctorSpec];
