# Knowledge distillation in the structure of PyTorch's knowledge-distillation tutorial, on Fashion-MNIST:
# a deep CNN teacher and a light CNN student trained with cross-entropy, then the student distilled from
# the teacher's soft targets (Hinton et al., 2015: KL at temperature T scaled by T²), then with a cosine
# loss between hidden representations (CosineEmbeddingLoss, the teacher's flattened features average-pooled
# to the student's width). kd-tutorial.ts is this script ported to torchkd line by line.
#   python kd_tutorial.py [--train-samples N] [--test-samples N] [--epochs N] [--batch-size N]
import argparse
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
parser.add_argument('--epochs', type=int, default=10)
parser.add_argument('--batch-size', type=int, default=128)
parser.add_argument('--threads', type=int, default=0)
args = parser.parse_args()
if args.threads:
    torch.set_num_threads(args.threads)
device = 'cpu'

torch.manual_seed(42)
train_dataset = Subset(fashion_mnist(train=True), range(args.train_samples))
test_dataset = Subset(fashion_mnist(train=False), range(args.test_samples))
train_loader = DataLoader(train_dataset, batch_size=args.batch_size, shuffle=True)
test_loader = DataLoader(test_dataset, batch_size=args.batch_size, shuffle=False)


class DeepNN(nn.Module):
    def __init__(self, num_classes=10):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 128, kernel_size=3, padding=1), nn.ReLU(),
            nn.Conv2d(128, 64, kernel_size=3, padding=1), nn.ReLU(),
            nn.MaxPool2d(kernel_size=2, stride=2),
            nn.Conv2d(64, 64, kernel_size=3, padding=1), nn.ReLU(),
            nn.Conv2d(64, 32, kernel_size=3, padding=1), nn.ReLU(),
            nn.MaxPool2d(kernel_size=2, stride=2),
        )
        self.classifier = nn.Sequential(
            nn.Linear(32 * 7 * 7, 512), nn.ReLU(), nn.Dropout(0.1), nn.Linear(512, num_classes),
        )

    def forward(self, x):
        x = self.features(x)
        x = torch.flatten(x, 1)
        return self.classifier(x)


class LightNN(nn.Module):
    def __init__(self, num_classes=10):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 16, kernel_size=3, padding=1), nn.ReLU(),
            nn.MaxPool2d(kernel_size=2, stride=2),
            nn.Conv2d(16, 16, kernel_size=3, padding=1), nn.ReLU(),
            nn.MaxPool2d(kernel_size=2, stride=2),
        )
        self.classifier = nn.Sequential(
            nn.Linear(16 * 7 * 7, 256), nn.ReLU(), nn.Dropout(0.1), nn.Linear(256, num_classes),
        )

    def forward(self, x):
        x = self.features(x)
        x = torch.flatten(x, 1)
        return self.classifier(x)


class CosineStudent(LightNN):
    """LightNN that also returns its flattened features (16·7·7 = 784 values)."""

    def forward(self, x):
        x = self.features(x)
        flat = torch.flatten(x, 1)
        return self.classifier(flat), flat


def train(model, train_loader, epochs, learning_rate):
    criterion = nn.CrossEntropyLoss()
    optimizer = optim.Adam(model.parameters(), lr=learning_rate)
    model.train()
    for epoch in range(epochs):
        running_loss = 0.0
        for inputs, labels in train_loader:
            inputs, labels = inputs.to(device), labels.to(device)
            optimizer.zero_grad()
            outputs = model(inputs)
            loss = criterion(outputs, labels)
            loss.backward()
            optimizer.step()
            running_loss += loss.item()
        print(f"Epoch {epoch + 1}/{epochs}, Loss: {running_loss / len(train_loader)!r}")


def test(model, test_loader):
    model.eval()
    correct = 0
    total = 0
    with torch.no_grad():
        for inputs, labels in test_loader:
            inputs, labels = inputs.to(device), labels.to(device)
            outputs = model(inputs)
            if isinstance(outputs, tuple):
                outputs = outputs[0]
            _, predicted = torch.max(outputs, 1)
            total += labels.size(0)
            correct += (predicted == labels).sum().item()
    accuracy = 100 * correct / total
    print(f"Test Accuracy: {accuracy!r}%")
    return accuracy


def train_knowledge_distillation(teacher, student, train_loader, epochs, learning_rate, T, soft_target_loss_weight, ce_loss_weight):
    ce_loss = nn.CrossEntropyLoss()
    optimizer = optim.Adam(student.parameters(), lr=learning_rate)
    teacher.eval()
    student.train()
    for epoch in range(epochs):
        running_loss = 0.0
        for inputs, labels in train_loader:
            optimizer.zero_grad()
            with torch.no_grad():
                teacher_logits = teacher(inputs)
            student_logits = student(inputs)
            # KL(teacher ‖ student) at temperature T, summed over classes, averaged over the batch, times T².
            soft_targets = F.softmax(teacher_logits / T, dim=-1)
            soft_prob = F.log_softmax(student_logits / T, dim=-1)
            soft_targets_loss = torch.sum(soft_targets * (soft_targets.log() - soft_prob)) / soft_prob.size()[0] * (T ** 2)
            label_loss = ce_loss(student_logits, labels)
            loss = soft_target_loss_weight * soft_targets_loss + ce_loss_weight * label_loss
            loss.backward()
            optimizer.step()
            running_loss += loss.item()
        print(f"Epoch {epoch + 1}/{epochs}, Loss: {running_loss / len(train_loader)!r}")


def train_cosine_loss(teacher, student, train_loader, epochs, learning_rate, hidden_rep_loss_weight, ce_loss_weight):
    ce_loss = nn.CrossEntropyLoss()
    cosine_loss = nn.CosineEmbeddingLoss()
    optimizer = optim.Adam(student.parameters(), lr=learning_rate)
    teacher.eval()
    student.train()
    for epoch in range(epochs):
        running_loss = 0.0
        for inputs, labels in train_loader:
            optimizer.zero_grad()
            with torch.no_grad():
                # The teacher's 32·7·7 = 1568 features, average-pooled in pairs to the student's 784.
                teacher_hidden = F.avg_pool1d(torch.flatten(teacher.features(inputs), 1), 2)
            student_logits, student_hidden = student(inputs)
            hidden_rep_loss = cosine_loss(student_hidden, teacher_hidden, target=torch.ones(inputs.size(0)))
            label_loss = ce_loss(student_logits, labels)
            loss = hidden_rep_loss_weight * hidden_rep_loss + ce_loss_weight * label_loss
            loss.backward()
            optimizer.step()
            running_loss += loss.item()
        print(f"Epoch {epoch + 1}/{epochs}, Loss: {running_loss / len(train_loader)!r}")


torch.manual_seed(42)
nn_deep = DeepNN(num_classes=10).to(device)
train(nn_deep, train_loader, epochs=args.epochs, learning_rate=0.001)
test_accuracy_deep = test(nn_deep, test_loader)

torch.manual_seed(42)
nn_light = LightNN(num_classes=10).to(device)
torch.manual_seed(42)
new_nn_light = LightNN(num_classes=10).to(device)
print(f"Norm of 1st layer of nn_light: {torch.norm(nn_light.features[0].weight).item()!r}")
print(f"Norm of 1st layer of new_nn_light: {torch.norm(new_nn_light.features[0].weight).item()!r}")
print(f"DeepNN parameters: {sum(p.numel() for p in nn_deep.parameters())}")
print(f"LightNN parameters: {sum(p.numel() for p in nn_light.parameters())}")

train(nn_light, train_loader, epochs=args.epochs, learning_rate=0.001)
test_accuracy_light_ce = test(nn_light, test_loader)

train_knowledge_distillation(teacher=nn_deep, student=new_nn_light, train_loader=train_loader, epochs=args.epochs,
                             learning_rate=0.001, T=2, soft_target_loss_weight=0.25, ce_loss_weight=0.75)
test_accuracy_light_ce_and_kd = test(new_nn_light, test_loader)

torch.manual_seed(42)
cosine_student = CosineStudent(num_classes=10).to(device)
train_cosine_loss(teacher=nn_deep, student=cosine_student, train_loader=train_loader, epochs=args.epochs,
                  learning_rate=0.001, hidden_rep_loss_weight=0.25, ce_loss_weight=0.75)
test_accuracy_light_cosine = test(cosine_student, test_loader)

print(f"Teacher accuracy: {test_accuracy_deep!r}%")
print(f"Student accuracy without teacher: {test_accuracy_light_ce!r}%")
print(f"Student accuracy with CE + KD: {test_accuracy_light_ce_and_kd!r}%")
print(f"Student accuracy with CE + CosineLoss: {test_accuracy_light_cosine!r}%")
