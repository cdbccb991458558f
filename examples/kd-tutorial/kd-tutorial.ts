// kd_tutorial.py ported to torchkd line by line (docs/porting.md lists the idioms that change): the same
// models, data order, losses and printed numbers as the Python script on the same libtorch.
//   npx tsx examples/kd-tutorial/kd-tutorial.ts [--train-samples N] [--test-samples N] [--epochs N] [--batch-size N]
import { data, nn, optim, torch, type Tensor } from 'torchkd';
import { fashionMnist, parseFlags } from '../fashion-mnist';

const F = nn.functional;

export function main(argv: string[], print: (line: string) => void = console.log): void {
  const args = parseFlags(argv, { trainSamples: 60000, testSamples: 10000, epochs: 10, batchSize: 128, threads: 0 });
  if (args.threads) torch.setNumThreads(args.threads);
  const device = 'cpu';

  torch.manualSeed(42);
  const trainDataset = new data.Subset(fashionMnist(true), data.range(args.trainSamples));
  const testDataset = new data.Subset(fashionMnist(false), data.range(args.testSamples));
  const trainLoader = new data.DataLoader(trainDataset, { batchSize: args.batchSize, shuffle: true });
  const testLoader = new data.DataLoader(testDataset, { batchSize: args.batchSize, shuffle: false });

  class DeepNN extends nn.Module {
    features = this.registerModule('features', new nn.Sequential(
      new nn.Conv2d(1, 128, 3, { padding: 1 }), new nn.ReLU(),
      new nn.Conv2d(128, 64, 3, { padding: 1 }), new nn.ReLU(),
      new nn.MaxPool2d(2, { stride: 2 }),
      new nn.Conv2d(64, 64, 3, { padding: 1 }), new nn.ReLU(),
      new nn.Conv2d(64, 32, 3, { padding: 1 }), new nn.ReLU(),
      new nn.MaxPool2d(2, { stride: 2 }),
    ));
    classifier: nn.Sequential;
    constructor(numClasses = 10) {
      super();
      this.classifier = this.registerModule('classifier', new nn.Sequential(
        new nn.Linear(32 * 7 * 7, 512), new nn.ReLU(), new nn.Dropout(0.1), new nn.Linear(512, numClasses),
      ));
    }
    forward(x: Tensor): Tensor {
      x = this.features.call(x);
      x = torch.flatten(x, 1);
      return this.classifier.call(x);
    }
  }

  class LightNN extends nn.Module {
    features = this.registerModule('features', new nn.Sequential(
      new nn.Conv2d(1, 16, 3, { padding: 1 }), new nn.ReLU(),
      new nn.MaxPool2d(2, { stride: 2 }),
      new nn.Conv2d(16, 16, 3, { padding: 1 }), new nn.ReLU(),
      new nn.MaxPool2d(2, { stride: 2 }),
    ));
    classifier: nn.Sequential;
    constructor(numClasses = 10) {
      super();
      this.classifier = this.registerModule('classifier', new nn.Sequential(
        new nn.Linear(16 * 7 * 7, 256), new nn.ReLU(), new nn.Dropout(0.1), new nn.Linear(256, numClasses),
      ));
    }
    forward(x: Tensor): Tensor | [Tensor, Tensor] {
      x = this.features.call(x);
      x = torch.flatten(x, 1);
      return this.classifier.call(x);
    }
  }

  /** LightNN that also returns its flattened features (16·7·7 = 784 values). */
  class CosineStudent extends LightNN {
    override forward(x: Tensor): [Tensor, Tensor] {
      x = this.features.call(x);
      const flat = torch.flatten(x, 1);
      return [this.classifier.call(flat), flat];
    }
  }

  const fmt = (v: number) => String(v);

  function train(model: nn.Module & { forward(x: Tensor): Tensor | [Tensor, Tensor] }, trainLoader: data.DataLoader<Tensor[]>, epochs: number, learningRate: number) {
    const criterion = new nn.CrossEntropyLoss();
    const optimizer = new optim.Adam(model.parameters(), { lr: learningRate });
    model.train();
    for (let epoch = 0; epoch < epochs; epoch++) {
      let runningLoss = 0.0;
      for (let [inputs, labels] of trainLoader) {
        [inputs, labels] = [inputs.to(device), labels.to(device)];
        optimizer.zeroGrad();
        const outputs = model.call(inputs) as Tensor;
        const loss = criterion.call(outputs, labels);
        loss.backward();
        optimizer.step();
        runningLoss += loss.item();
      }
      print(`Epoch ${epoch + 1}/${epochs}, Loss: ${fmt(runningLoss / trainLoader.length)}`);
    }
  }

  function test(model: nn.Module & { forward(x: Tensor): Tensor | [Tensor, Tensor] }, testLoader: data.DataLoader<Tensor[]>): number {
    model.eval();
    let correct = 0;
    let total = 0;
    {
      using _ = torch.noGrad();
      for (let [inputs, labels] of testLoader) {
        [inputs, labels] = [inputs.to(device), labels.to(device)];
        let outputs = model.call(inputs);
        if (Array.isArray(outputs)) outputs = outputs[0];
        const { indices: predicted } = torch.max(outputs, 1);
        total += labels.size(0);
        correct += predicted.eq(labels).sum().item();
      }
    }
    const accuracy = 100 * correct / total;
    print(`Test Accuracy: ${fmt(accuracy)}%`);
    return accuracy;
  }

  function trainKnowledgeDistillation(teacher: DeepNN, student: LightNN, trainLoader: data.DataLoader<Tensor[]>, epochs: number,
    learningRate: number, T: number, softTargetLossWeight: number, ceLossWeight: number) {
    const ceLoss = new nn.CrossEntropyLoss();
    const optimizer = new optim.Adam(student.parameters(), { lr: learningRate });
    teacher.eval();
    student.train();
    for (let epoch = 0; epoch < epochs; epoch++) {
      let runningLoss = 0.0;
      for (const [inputs, labels] of trainLoader) {
        optimizer.zeroGrad();
        const teacherLogits = torch.noGrad(() => teacher.call(inputs));
        const studentLogits = student.call(inputs) as Tensor;
        // KL(teacher ‖ student) at temperature T, summed over classes, averaged over the batch, times T².
        const softTargets = F.softmax(teacherLogits.div(T), -1);
        const softProb = F.logSoftmax(studentLogits.div(T), -1);
        const softTargetsLoss = torch.sum(softTargets.mul(softTargets.log().sub(softProb))).div(softProb.size()[0]).mul(T ** 2);
        const labelLoss = ceLoss.call(studentLogits, labels);
        const loss = softTargetsLoss.mul(softTargetLossWeight).add(labelLoss.mul(ceLossWeight));
        loss.backward();
        optimizer.step();
        runningLoss += loss.item();
      }
      print(`Epoch ${epoch + 1}/${epochs}, Loss: ${fmt(runningLoss / trainLoader.length)}`);
    }
  }

  function trainCosineLoss(teacher: DeepNN, student: CosineStudent, trainLoader: data.DataLoader<Tensor[]>, epochs: number,
    learningRate: number, hiddenRepLossWeight: number, ceLossWeight: number) {
    const ceLoss = new nn.CrossEntropyLoss();
    const cosineLoss = new nn.CosineEmbeddingLoss();
    const optimizer = new optim.Adam(student.parameters(), { lr: learningRate });
    teacher.eval();
    student.train();
    for (let epoch = 0; epoch < epochs; epoch++) {
      let runningLoss = 0.0;
      for (const [inputs, labels] of trainLoader) {
        optimizer.zeroGrad();
        // The teacher's 32·7·7 = 1568 features, average-pooled in pairs to the student's 784.
        const teacherHidden = torch.noGrad(() => F.avgPool1d(torch.flatten(teacher.features.call(inputs), 1), 2));
        const [studentLogits, studentHidden] = student.call(inputs);
        const hiddenRepLoss = cosineLoss.call(studentHidden, teacherHidden, torch.ones([inputs.size(0)]));
        const labelLoss = ceLoss.call(studentLogits, labels);
        const loss = hiddenRepLoss.mul(hiddenRepLossWeight).add(labelLoss.mul(ceLossWeight));
        loss.backward();
        optimizer.step();
        runningLoss += loss.item();
      }
      print(`Epoch ${epoch + 1}/${epochs}, Loss: ${fmt(runningLoss / trainLoader.length)}`);
    }
  }

  torch.manualSeed(42);
  const nnDeep = new DeepNN(10).to(device);
  train(nnDeep, trainLoader, args.epochs, 0.001);
  const testAccuracyDeep = test(nnDeep, testLoader);

  torch.manualSeed(42);
  const nnLight = new LightNN(10).to(device);
  torch.manualSeed(42);
  const newNnLight = new LightNN(10).to(device);
  print(`Norm of 1st layer of nn_light: ${fmt(torch.norm((nnLight.features[0] as nn.Conv2d).weight).item())}`);
  print(`Norm of 1st layer of new_nn_light: ${fmt(torch.norm((newNnLight.features[0] as nn.Conv2d).weight).item())}`);
  print(`DeepNN parameters: ${nnDeep.parameters().reduce((n, p) => n + p.numel(), 0)}`);
  print(`LightNN parameters: ${nnLight.parameters().reduce((n, p) => n + p.numel(), 0)}`);

  train(nnLight, trainLoader, args.epochs, 0.001);
  const testAccuracyLightCe = test(nnLight, testLoader);

  trainKnowledgeDistillation(nnDeep, newNnLight, trainLoader, args.epochs, 0.001, 2, 0.25, 0.75);
  const testAccuracyLightCeAndKd = test(newNnLight, testLoader);

  torch.manualSeed(42);
  const cosineStudent = new CosineStudent(10).to(device);
  trainCosineLoss(nnDeep, cosineStudent, trainLoader, args.epochs, 0.001, 0.25, 0.75);
  const testAccuracyLightCosine = test(cosineStudent, testLoader);

  print(`Teacher accuracy: ${fmt(testAccuracyDeep)}%`);
  print(`Student accuracy without teacher: ${fmt(testAccuracyLightCe)}%`);
  print(`Student accuracy with CE + KD: ${fmt(testAccuracyLightCeAndKd)}%`);
  print(`Student accuracy with CE + CosineLoss: ${fmt(testAccuracyLightCosine)}%`);
}

if (typeof require !== 'undefined' && require.main === module) main(process.argv.slice(2));
