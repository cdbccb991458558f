# Teacher-assistant knowledge distillation (Mirzadeh et al., 2020, "Improved Knowledge Distillation via
# Teacher Assistant") in the structure of a TA-chain training script, on Fashion-MNIST: CIFAR-style ResNets
# (BasicBlock, 16/32/64 channels) train a chain teacher -> assistant -> student, each stage distilled from
# the best checkpoint of the previous one with (1 − λ)·CE + λ·T²·KLDivLoss() on softened outputs, SGD with
# momentum and a step learning-rate schedule; checkpoints are torch.save dicts with the model and optimizer
# state dicts. takd.ts is this script ported to torchkd line by line.
#   python takd.py [--train-samples N] [--test-samples N] [--epochs N] [--batch-size N] [--out-dir DIR]
import argparse
import math
import os
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F
import torch.optim as optim
from torch.utils.data import DataLoader, Subset

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))
from fashion_mnist import fashion_mnist  # noqa: E402

parser = argparse.ArgumentParser()
parser.add_argument('--train-samples', type=int, default=60000)
parser.add_argument('--test-samples', type=int, default=10000)
parser.add_argument('--epochs', type=int, default=30)
parser.add_argument('--batch-size', type=int, default=128)
parser.add_argument('--threads', type=int, default=0)
parser.add_argument('--out-dir', type=str, default='takd-checkpoints')
args = parser.parse_args()
if args.threads:
    torch.set_num_threads(args.threads)


def conv3x3(in_planes, out_planes, stride=1):
    return nn.Conv2d(in_planes, out_planes, kernel_size=3, stride=stride, padding=1, bias=False)


class BasicBlock(nn.Module):
    expansion = 1

    def __init__(self, inplanes, planes, stride=1, downsample=None):
        super().__init__()
        self.conv1 = conv3x3(inplanes, planes, stride)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = conv3x3(planes, planes)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = downsample

    def forward(self, x):
        residual = x
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        if self.downsample is not None:
            residual = self.downsample(x)
        out += residual
        return self.relu(out)


class ResNet(nn.Module):
    """A CIFAR ResNet (three stages of BasicBlocks) for 1×28×28 inputs: 28 → 14 → 7, then a 7×7 average pool."""

    def __init__(self, layers, num_classes=10):
        super().__init__()
        self.inplanes = 16
        self.conv1 = nn.Conv2d(1, 16, kernel_size=3, stride=1, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        self.relu = nn.ReLU(inplace=True)
        self.layer1 = self._make_layer(16, layers[0])
        self.layer2 = self._make_layer(32, layers[1], stride=2)
        self.layer3 = self._make_layer(64, layers[2], stride=2)
        self.avgpool = nn.AvgPool2d(7, stride=1)
        self.fc = nn.Linear(64 * BasicBlock.expansion, num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                n = m.kernel_size[0] * m.kernel_size[1] * m.out_channels
                m.weight.data.normal_(0, math.sqrt(2. / n))
            elif isinstance(m, nn.BatchNorm2d):
                m.weight.data.fill_(1)
                m.bias.data.zero_()

    def _make_layer(self, planes, blocks, stride=1):
        downsample = None
        if stride != 1 or self.inplanes != planes * BasicBlock.expansion:
            downsample = nn.Sequential(
                nn.Conv2d(self.inplanes, planes * BasicBlock.expansion, kernel_size=1, stride=stride, bias=False),
                nn.BatchNorm2d(planes * BasicBlock.expansion),
            )
        layers = [BasicBlock(self.inplanes, planes, stride, downsample)]
        self.inplanes = planes * BasicBlock.expansion
        for _ in range(1, blocks):
            layers.append(BasicBlock(self.inplanes, planes))
        return nn.Sequential(*layers)

    def forward(self, x):
        x = self.relu(self.bn1(self.conv1(x)))
        x = self.layer3(self.layer2(self.layer1(x)))
        x = self.avgpool(x)
        x = x.view(x.size(0), -1)
        return self.fc(x)


def create_model(name):
    depth = int(name[len('resnet'):])
    blocks = (depth - 2) // 6
    return ResNet([blocks, blocks, blocks])


class TrainManager:
    def __init__(self, student, teacher, train_loader, test_loader, config):
        self.student = student
        self.teacher = teacher
        self.have_teacher = teacher is not None
        self.optimizer = optim.SGD(student.parameters(), lr=config['learning_rate'], momentum=config['momentum'],
                                   weight_decay=config['weight_decay'])
        if self.have_teacher:
            self.teacher.eval()
        self.train_loader = train_loader
        self.test_loader = test_loader
        self.config = config

    def train(self):
        lambda_ = self.config['lambda_student']
        T = self.config['T_student']
        epochs = self.config['epochs']
        best_acc = 0
        criterion = nn.CrossEntropyLoss()
        for epoch in range(epochs):
            self.student.train()
            self.adjust_learning_rate(epoch)
            total_loss = 0.0
            for data, target in self.train_loader:
                self.optimizer.zero_grad()
                output = self.student(data)
                loss_sl = criterion(output, target)
                loss = loss_sl
                if self.have_teacher:
                    with torch.no_grad():
                        teacher_outputs = self.teacher(data)
                    loss_kd = nn.KLDivLoss()(F.log_softmax(output / T, dim=1), F.softmax(teacher_outputs / T, dim=1))
                    loss = (1 - lambda_) * loss_sl + lambda_ * T * T * loss_kd
                loss.backward()
                self.optimizer.step()
                total_loss += loss.item()
            print(f"{self.config['name']} epoch {epoch}/{epochs} loss {total_loss / len(self.train_loader)!r}")
            val_acc = self.validate()
            if val_acc > best_acc:
                best_acc = val_acc
                self.save(epoch, os.path.join(args.out_dir, f"{self.config['name']}_best.pth.tar"))
        return best_acc

    def validate(self):
        self.student.eval()
        with torch.no_grad():
            correct = 0
            total = 0
            for images, labels in self.test_loader:
                outputs = self.student(images)
                _, predicted = torch.max(outputs.data, 1)
                total += labels.size(0)
                correct += (predicted == labels).sum().item()
            acc = 100 * correct / total
            print(f"{self.config['name']} val accuracy {acc!r}")
            return acc

    def save(self, epoch, path):
        torch.save({
            'model_state_dict': self.student.state_dict(),
            'optimizer_state_dict': self.optimizer.state_dict(),
            'epoch': epoch,
        }, path)

    def adjust_learning_rate(self, epoch):
        epochs = self.config['epochs']
        if epoch < int(epochs / 2.0):
            lr = self.config['learning_rate']
        elif epoch < int(epochs * 3 / 4.0):
            lr = self.config['learning_rate'] * 0.1
        else:
            lr = self.config['learning_rate'] * 0.01
        for param_group in self.optimizer.param_groups:
            param_group['lr'] = lr


def load_checkpoint(model, path):
    checkpoint = torch.load(path)  # weights_only=True by default from PyTorch 2.6; 1.13 has no floats in that mode
    model.load_state_dict(checkpoint['model_state_dict'])
    print(f"loaded {os.path.basename(path)} (epoch {checkpoint['epoch']})")
    return model


os.makedirs(args.out_dir, exist_ok=True)
torch.manual_seed(0)
train_loader = DataLoader(Subset(fashion_mnist(train=True), range(args.train_samples)), batch_size=args.batch_size, shuffle=True)
test_loader = DataLoader(Subset(fashion_mnist(train=False), range(args.test_samples)), batch_size=args.batch_size)
config = {'epochs': args.epochs, 'learning_rate': 0.1, 'momentum': 0.9, 'weight_decay': 1e-4, 'T_student': 4, 'lambda_student': 0.5}

teacher = None
for name in ['resnet20', 'resnet14', 'resnet8']:
    model = create_model(name)
    print(f"---------- Training {name} ({sum(p.numel() for p in model.parameters())} parameters) -------")
    best = TrainManager(model, teacher, train_loader, test_loader, dict(config, name=name)).train()
    print(f"{name} best accuracy {best!r}")
    teacher = load_checkpoint(create_model(name), os.path.join(args.out_dir, f'{name}_best.pth.tar'))
