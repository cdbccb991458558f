// The migration path end to end: Python trains a small CNN teacher, exports it with torch.jit.script and
// its state_dict with torch.save; torchkd loads both (logits equal Python's), trains a student for a few
// steps, saves it as safetensors; Python loads the safetensors file and reproduces torchkd's logits.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { io, nn, optim, torch, type Tensor } from '../dist/index.js';
import { expectClose, py } from './helpers';

const PY_MODELS = `
import torch, torch.nn as nn
class Teacher(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 8, 3, padding=1)
        self.bn = nn.BatchNorm2d(8)
        self.conv2 = nn.Conv2d(8, 16, 3, padding=1)
        self.fc = nn.Linear(16 * 7 * 7, 10)
    def forward(self, x):
        x = torch.max_pool2d(torch.relu(self.bn(self.conv1(x))), 2)
        x = torch.max_pool2d(torch.relu(self.conv2(x)), 2)
        return self.fc(x.flatten(1))
`;

/** The teacher's architecture in torchkd, with PyTorch's parameter names. */
class Teacher extends nn.Module {
  conv1 = this.registerModule('conv1', new nn.Conv2d(1, 8, 3, { padding: 1 }));
  bn = this.registerModule('bn', new nn.BatchNorm2d(8));
  conv2 = this.registerModule('conv2', new nn.Conv2d(8, 16, 3, { padding: 1 }));
  fc = this.registerModule('fc', new nn.Linear(16 * 7 * 7, 10));
  forward(x: Tensor): Tensor {
    const F = nn.functional;
    const h = F.maxPool2d(this.bn.call(this.conv1.call(x)).relu(), 2);
    return this.fc.call(F.maxPool2d(this.conv2.call(h).relu(), 2).flatten(1));
  }
}

class Student extends nn.Module {
  fc1 = this.registerModule('fc1', new nn.Linear(784, 32));
  fc2 = this.registerModule('fc2', new nn.Linear(32, 10));
  forward(x: Tensor): Tensor {
    return this.fc2.call(this.fc1.call(x.flatten(1)).relu());
  }
}

describe('round trip with Python PyTorch', () => {
  it('teacher from TorchScript and torch.save, student back to Python through safetensors', () => {
    const dir = mkdtempSync(join(tmpdir(), 'torchkd-roundtrip-'));
    const scripted = join(dir, 'teacher.pt');
    const stateDict = join(dir, 'teacher_state.pt');
    const studentFile = join(dir, 'student.safetensors');

    // 1. Python trains the teacher on random data and exports it both ways.
    // torch.jit.script reads the class's source file, so the model lives in a module file.
    writeFileSync(join(dir, 'models.py'), PY_MODELS);
    const ref = py<{ logits: number[][]; x: number[] }>(`sys.path.insert(0, inputs['dir'])
from models import Teacher
torch.manual_seed(0)
teacher = Teacher()
opt = torch.optim.SGD(teacher.parameters(), lr=0.05)
data, labels = torch.randn(64, 1, 28, 28), torch.randint(0, 10, (64,))
for _ in range(5):
    opt.zero_grad(); torch.nn.functional.cross_entropy(teacher(data), labels).backward(); opt.step()
teacher.eval()
torch.jit.script(teacher).save(inputs['scripted'])
torch.save(teacher.state_dict(), inputs['state'])
x = torch.randn(4, 1, 28, 28)
with torch.no_grad():
    out = dict(logits=teacher(x).tolist(), x=x.flatten().tolist())`, { scripted, state: stateDict, dir });
    const x = torch.tensor(new Float32Array(ref.x), { shape: [4, 1, 28, 28] });

    // 2. torchkd loads the TorchScript teacher and the state_dict into its own Teacher module.
    const script = io.loadTorchScript(scripted);
    script.eval();
    const fromScript = torch.noGrad(() => script.forwardTensor(x));
    expectClose(fromScript.toArray(), ref.logits, 1e-6, 1e-6);

    const teacher = new Teacher();
    const missing = teacher.loadStateDict(io.loadStateDict(stateDict));
    expect(missing).toEqual({ missingKeys: [], unexpectedKeys: [] });
    teacher.eval();
    const fromStateDict = torch.noGrad(() => teacher.call(x));
    expectClose(fromStateDict.toArray(), ref.logits, 1e-6, 1e-6);

    // 3. torchkd distils a student for a few steps (soft targets from the scripted teacher).
    torch.manualSeed(1);
    const student = new Student();
    const opt = new optim.Adam(student.parameters(), { lr: 1e-2 });
    const transfer = torch.randn([32, 1, 28, 28]);
    const soft = torch.noGrad(() => script.forwardTensor(transfer).div(4).softmax(1));
    for (let step = 0; step < 10; step++) {
      torch.tidy(() => {
        opt.zeroGrad();
        const logp = student.call(transfer).div(4).logSoftmax(1);
        nn.functional.klDiv(logp, soft, { reduction: 'batchmean' }).mul(16).backward();
        opt.step();
      });
    }
    io.saveSafetensors(studentFile, student.stateDict());
    const ours = torch.noGrad(() => student.call(x)).toArray();

    // 4. Python reads the safetensors file (json + struct + frombuffer) and reproduces the logits.
    const theirs = py<number[][]>(`import json, struct, torch
raw = open(inputs['file'], 'rb').read()
n = struct.unpack('<Q', raw[:8])[0]
header = json.loads(raw[8:8 + n])
data = raw[8 + n:]
sd = {k: torch.frombuffer(bytearray(data[v['data_offsets'][0]:v['data_offsets'][1]]), dtype=torch.float32).reshape(v['shape'])
      for k, v in header.items() if k != '__metadata__'}
student = torch.nn.Sequential()
fc1, fc2 = torch.nn.Linear(784, 32), torch.nn.Linear(32, 10)
fc1.load_state_dict({'weight': sd['fc1.weight'], 'bias': sd['fc1.bias']})
fc2.load_state_dict({'weight': sd['fc2.weight'], 'bias': sd['fc2.bias']})
x = torch.tensor(inputs['x']).reshape(4, 1, 28, 28)
with torch.no_grad():
    out = fc2(torch.relu(fc1(x.flatten(1)))).tolist()`, { file: studentFile, x: ref.x });
    expectClose(ours, theirs, 1e-6, 1e-6);
  });
});
