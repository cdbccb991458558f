// takd.py ported to torchkd line by line (docs/porting.md lists the idioms that change): the same ResNets,
// chain, losses, schedule, checkpoints and printed numbers as the Python script on the same libtorch. The
// checkpoints are torch.save files that Python's torch.load reads (and the other way round).
//   npx tsx examples/takd/takd.ts [--train-samples N] [--test-samples N] [--epochs N] [--batch-size N]
import { mkdirSync } from 'node:fs';
import { basename, join } from 'node:path';
import { data, nn, optim, torch, type Tensor } from 'torchkd';
import { fashionMnist, parseFlags } from '../fashion-mnist';

const F = nn.functional;

function conv3x3(inPlanes: number, outPlanes: number, stride = 1): nn.Conv2d {
  return new nn.Conv2d(inPlanes, outPlanes, 3, { stride, padding: 1, bias: false });
}

class BasicBlock extends nn.Module {
  static expansion = 1;
  conv1: nn.Conv2d;
  bn1: nn.BatchNorm2d;
  relu: nn.ReLU;
  conv2: nn.Conv2d;
  bn2: nn.BatchNorm2d;
  downsample: nn.Sequential | null;
  constructor(inplanes: number, planes: number, stride = 1, downsample: nn.Sequential | null = null) {
    super();
    this.conv1 = this.registerModule('conv1', conv3x3(inplanes, planes, stride));
    this.bn1 = this.registerModule('bn1', new nn.BatchNorm2d(planes));
    this.relu = this.registerModule('relu', new nn.ReLU({ inplace: true }));
    this.conv2 = this.registerModule('conv2', conv3x3(planes, planes));
    this.bn2 = this.registerModule('bn2', new nn.BatchNorm2d(planes));
    this.downsample = this.registerModule('downsample', downsample);
  }
  forward(x: Tensor): Tensor {
    let residual = x;
    let out = this.relu.call(this.bn1.call(this.conv1.call(x)));
    out = this.bn2.call(this.conv2.call(out));
    if (this.downsample !== null) residual = this.downsample.call(x);
    out.add_(residual); // out += residual
    return this.relu.call(out);
  }
}

/** A CIFAR ResNet (three stages of BasicBlocks) for 1×28×28 inputs: 28 → 14 → 7, then a 7×7 average pool. */
class ResNet extends nn.Module {
  inplanes = 16;
  conv1 = this.registerModule('conv1', new nn.Conv2d(1, 16, 3, { stride: 1, padding: 1, bias: false }));
  bn1 = this.registerModule('bn1', new nn.BatchNorm2d(16));
  relu = this.registerModule('relu', new nn.ReLU({ inplace: true }));
  layer1: nn.Sequential;
  layer2: nn.Sequential;
  layer3: nn.Sequential;
  avgpool: nn.AvgPool2d;
  fc: nn.Linear;
  constructor(layers: number[], numClasses = 10) {
    super();
    this.layer1 = this.registerModule('layer1', this.makeLayer(16, layers[0]));
    this.layer2 = this.registerModule('layer2', this.makeLayer(32, layers[1], 2));
    this.layer3 = this.registerModule('layer3', this.makeLayer(64, layers[2], 2));
    this.avgpool = this.registerModule('avgpool', new nn.AvgPool2d(7, { stride: 1 }));
    this.fc = this.registerModule('fc', new nn.Linear(64 * BasicBlock.expansion, numClasses));
    for (const m of this.modules()) {
      if (m instanceof nn.Conv2d) {
        const n = m.kernelSize[0] * m.kernelSize[1] * m.outChannels;
        m.weight.data.normal_(0, Math.sqrt(2 / n));
      } else if (m instanceof nn.BatchNorm2d) {
        (m.weight as Tensor).data.fill_(1);
        (m.bias as Tensor).data.zero_();
      }
    }
  }
  private makeLayer(planes: number, blocks: number, stride = 1): nn.Sequential {
    let downsample: nn.Sequential | null = null;
    if (stride !== 1 || this.inplanes !== planes * BasicBlock.expansion) {
      downsample = new nn.Sequential(
        new nn.Conv2d(this.inplanes, planes * BasicBlock.expansion, 1, { stride, bias: false }),
        new nn.BatchNorm2d(planes * BasicBlock.expansion),
      );
    }
    const layers: nn.Module[] = [new BasicBlock(this.inplanes, planes, stride, downsample)];
    this.inplanes = planes * BasicBlock.expansion;
    for (let i = 1; i < blocks; i++) layers.push(new BasicBlock(this.inplanes, planes));
    return new nn.Sequential(...layers);
  }
  forward(x: Tensor): Tensor {
    x = this.relu.call(this.bn1.call(this.conv1.call(x)));
    x = this.layer3.call(this.layer2.call(this.layer1.call(x)));
    x = this.avgpool.call(x);
    x = x.view(x.size(0), -1);
    return this.fc.call(x);
  }
}

function createModel(name: string): ResNet {
  const depth = Number(name.slice('resnet'.length));
  const blocks = Math.floor((depth - 2) / 6);
  return new ResNet([blocks, blocks, blocks]);
}

interface Config {
  name: string; epochs: number; learning_rate: number; momentum: number; weight_decay: number; T_student: number; lambda_student: number;
}

export function main(argv: string[], print: (line: string) => void = console.log, outDirDefault = 'takd-checkpoints'): void {
  const args = parseFlags(argv.filter((a, i) => a !== '--out-dir' && argv[i - 1] !== '--out-dir'),
    { trainSamples: 60000, testSamples: 10000, epochs: 30, batchSize: 128, threads: 0 });
  const outDir = argv.includes('--out-dir') ? argv[argv.indexOf('--out-dir') + 1] : outDirDefault;
  if (args.threads) torch.setNumThreads(args.threads);

  class TrainManager {
    readonly haveTeacher: boolean;
    readonly optimizer: optim.SGD;
    constructor(readonly student: ResNet, readonly teacher: ResNet | null, readonly trainLoader: data.DataLoader<Tensor[]>,
      readonly testLoader: data.DataLoader<Tensor[]>, readonly config: Config) {
      this.haveTeacher = teacher !== null;
      this.optimizer = new optim.SGD(student.parameters(), { lr: config.learning_rate, momentum: config.momentum, weightDecay: config.weight_decay });
      if (this.haveTeacher) this.teacher?.eval();
    }

    train(): number {
      const lambda = this.config.lambda_student;
      const T = this.config.T_student;
      const epochs = this.config.epochs;
      let bestAcc = 0;
      const criterion = new nn.CrossEntropyLoss();
      for (let epoch = 0; epoch < epochs; epoch++) {
        this.student.train();
        this.adjustLearningRate(epoch);
        let totalLoss = 0.0;
        for (const [input, target] of this.trainLoader) {
          this.optimizer.zeroGrad();
          const output = this.student.call(input);
          const lossSl = criterion.call(output, target);
          let loss = lossSl;
          if (this.haveTeacher) {
            const teacherOutputs = torch.noGrad(() => (this.teacher as ResNet).call(input));
            const lossKd = new nn.KLDivLoss().call(F.logSoftmax(output.div(T), 1), F.softmax(teacherOutputs.div(T), 1));
            loss = lossSl.mul(1 - lambda).add(lossKd.mul(lambda * T * T));
          }
          loss.backward();
          this.optimizer.step();
          totalLoss += loss.item();
        }
        print(`${this.config.name} epoch ${epoch}/${epochs} loss ${totalLoss / this.trainLoader.length}`);
        const valAcc = this.validate();
        if (valAcc > bestAcc) {
          bestAcc = valAcc;
          this.save(epoch, join(outDir, `${this.config.name}_best.pth.tar`));
        }
      }
      return bestAcc;
    }

    validate(): number {
      this.student.eval();
      using _ = torch.noGrad();
      let correct = 0;
      let total = 0;
      for (const [images, labels] of this.testLoader) {
        const outputs = this.student.call(images);
        const { indices: predicted } = torch.max(outputs.data, 1);
        total += labels.size(0);
        correct += predicted.eq(labels).sum().item();
      }
      const acc = 100 * correct / total;
      print(`${this.config.name} val accuracy ${acc}`);
      return acc;
    }

    save(epoch: number, path: string): void {
      torch.save({
        model_state_dict: this.student.stateDict(),
        optimizer_state_dict: this.optimizer.stateDict(),
        epoch,
      }, path);
    }

    adjustLearningRate(epoch: number): void {
      const epochs = this.config.epochs;
      let lr: number;
      if (epoch < Math.trunc(epochs / 2.0)) lr = this.config.learning_rate;
      else if (epoch < Math.trunc(epochs * 3 / 4.0)) lr = this.config.learning_rate * 0.1;
      else lr = this.config.learning_rate * 0.01;
      for (const paramGroup of this.optimizer.paramGroups) paramGroup.lr = lr;
    }
  }

  function loadCheckpoint(model: ResNet, path: string): ResNet {
    const checkpoint = torch.load(path) as { model_state_dict: Record<string, Tensor>; epoch: number };
    model.loadStateDict(checkpoint.model_state_dict);
    print(`loaded ${basename(path)} (epoch ${checkpoint.epoch})`);
    return model;
  }

  mkdirSync(outDir, { recursive: true });
  torch.manualSeed(0);
  const trainLoader = new data.DataLoader(new data.Subset(fashionMnist(true), data.range(args.trainSamples)), { batchSize: args.batchSize, shuffle: true });
  const testLoader = new data.DataLoader(new data.Subset(fashionMnist(false), data.range(args.testSamples)), { batchSize: args.batchSize });
  const config = { epochs: args.epochs, learning_rate: 0.1, momentum: 0.9, weight_decay: 1e-4, T_student: 4, lambda_student: 0.5 };

  let teacher: ResNet | null = null;
  for (const name of ['resnet20', 'resnet14', 'resnet8']) {
    const model = createModel(name);
    print(`---------- Training ${name} (${model.parameters().reduce((n, p) => n + p.numel(), 0)} parameters) -------`);
    const best = new TrainManager(model, teacher, trainLoader, testLoader, { ...config, name }).train();
    print(`${name} best accuracy ${best}`);
    teacher = loadCheckpoint(createModel(name), join(outDir, `${name}_best.pth.tar`));
  }
}

if (typeof require !== 'undefined' && require.main === module) main(process.argv.slice(2));
