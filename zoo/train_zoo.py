#!/usr/bin/python3
"""Trains the prior zoo on the Fashion-MNIST train split and exports each prior to ONNX.

Priors (all take 1x28x28 grayscale images, pixels scaled to [0, 1] then normalised):
  resnet-sup      small ResNet, supervised
  mobilenet-sup   MobileNetV2-style net (depthwise convs, ReLU6, squeeze-excite, hard-swish), supervised
  simclr-convnet  ConvNet trained with SimCLR (augmentations + NT-Xent), no labels
  resnet-weak     the small ResNet after a few hundred supervised steps (a "weak" prior)
  convnet-random  randomly initialised ConvNet

Each ONNX file has two outputs, `features` (the prior's feature vector psi(x)) and `logits`
(or the projection head for SimCLR), so the feature cut is by output name. The manifest records
architecture, training, epochs, feature dimension, SHA-256, and each prior's own linear-probe
accuracy on the test split.

With --conformance it also exports torchvision ResNet-18, MobileNetV2, EfficientNet-B0 and a small
ViT with random weights into zoo/conformance/ (not committed; the converter tests use them when present).

With --op-tests it exports only the small op-coverage models into zoo/op-tests/ (committed).

Usage: /usr/bin/python3 zoo/train_zoo.py [--epochs N] [--conformance] [--conformance-only] [--op-tests]
"""

import argparse
import gzip
import hashlib
import json
import os
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
FASHION = "/usr/share/datasets/fashion-mnist"
TEST_SPLIT = os.path.join(HERE, "..", "data", "fashion-mnist")
MEAN, STD = 0.2860, 0.3530
OPSET = 17


def read_idx(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    magic = int.from_bytes(data[0:4], "big")
    dims = [int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(magic & 0xFF)]
    return np.frombuffer(data[4 + 4 * len(dims) :], np.uint8).reshape(dims)


def load_split(train):
    base, prefix = (FASHION, "train") if train else (TEST_SPLIT, "t10k")
    x = read_idx(os.path.join(base, f"{prefix}-images-idx3-ubyte.gz"))
    y = read_idx(os.path.join(base, f"{prefix}-labels-idx1-ubyte.gz"))
    x = torch.from_numpy(x.copy()).float().div(255).sub(MEAN).div(STD).unsqueeze(1)
    return x, torch.from_numpy(y.copy()).long()


class BasicBlock(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.down = None
        if stride != 1 or cin != cout:
            self.down = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + (x if self.down is None else self.down(x)))


class SmallResNet(nn.Module):
    def __init__(self, classes=10):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(1, 16, 3, 1, 1, bias=False), nn.BatchNorm2d(16), nn.ReLU())
        self.layers = nn.Sequential(BasicBlock(16, 16, 1), BasicBlock(16, 32, 2), BasicBlock(32, 64, 2))
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(64, classes)
        self.feature_dim = 64

    def features(self, x):
        return torch.flatten(self.pool(self.layers(self.stem(x))), 1)

    def forward(self, x):
        f = self.features(x)
        return f, self.fc(f)


class SqueezeExcite(nn.Module):
    def __init__(self, c, r=4):
        super().__init__()
        self.fc1 = nn.Conv2d(c, c // r, 1)
        self.fc2 = nn.Conv2d(c // r, c, 1)

    def forward(self, x):
        s = F.adaptive_avg_pool2d(x, 1)
        return x * F.hardsigmoid(self.fc2(F.relu(self.fc1(s))))


class InvertedResidual(nn.Module):
    def __init__(self, cin, cout, stride, expand, se=False, act=nn.ReLU6):
        super().__init__()
        mid = cin * expand
        layers = [nn.Conv2d(cin, mid, 1, bias=False), nn.BatchNorm2d(mid), act()]
        layers += [nn.Conv2d(mid, mid, 3, stride, 1, groups=mid, bias=False), nn.BatchNorm2d(mid), act()]
        if se:
            layers.append(SqueezeExcite(mid))
        layers += [nn.Conv2d(mid, cout, 1, bias=False), nn.BatchNorm2d(cout)]
        self.block = nn.Sequential(*layers)
        self.residual = stride == 1 and cin == cout

    def forward(self, x):
        out = self.block(x)
        return x + out if self.residual else out


class SmallMobileNet(nn.Module):
    def __init__(self, classes=10):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(1, 16, 3, 1, 1, bias=False), nn.BatchNorm2d(16), nn.Hardswish())
        self.blocks = nn.Sequential(
            InvertedResidual(16, 16, 1, 2),
            InvertedResidual(16, 24, 2, 4),
            InvertedResidual(24, 24, 1, 3, se=True, act=nn.Hardswish),
            InvertedResidual(24, 48, 2, 4, se=True, act=nn.Hardswish),
        )
        self.head = nn.Sequential(nn.Conv2d(48, 96, 1, bias=False), nn.BatchNorm2d(96), nn.Hardswish())
        self.fc = nn.Linear(96, classes)
        self.feature_dim = 96

    def features(self, x):
        x = self.head(self.blocks(self.stem(x)))
        return x.mean(dim=(2, 3))

    def forward(self, x):
        f = self.features(x)
        return f, self.fc(f)


class ConvNet(nn.Module):
    """Conv-BN-ReLU-pool x3; flattened with view(), as many hand-written nets do."""

    def __init__(self, out_dim=10):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(1, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3, padding=1), nn.BatchNorm2d(64), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(64, 128, 3, padding=1), nn.BatchNorm2d(128), nn.ReLU(), nn.AvgPool2d(7),
        )
        self.head = nn.Sequential(nn.Linear(128, 128), nn.ReLU(), nn.Linear(128, out_dim))
        self.feature_dim = 128

    def features(self, x):
        x = self.body(x)
        return x.view(x.size(0), -1)

    def forward(self, x):
        f = self.features(x)
        return f, self.head(f)


def batches(n, size, gen):
    perm = torch.randperm(n, generator=gen)
    for i in range(0, n - size + 1, size):
        yield perm[i : i + size]


def train_supervised(model, x, y, epochs, seed, max_steps=None, lr=3e-3):
    gen = torch.Generator().manual_seed(seed)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=1e-4)
    steps = 0
    model.train()
    for epoch in range(epochs):
        t0, total = time.time(), 0.0
        for idx in batches(len(x), 128, gen):
            _, logits = model(x[idx])
            loss = F.cross_entropy(logits, y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += loss.item()
            steps += 1
            if max_steps and steps >= max_steps:
                print(f"  stopped after {steps} steps, loss {loss.item():.3f}", flush=True)
                return steps
        print(f"  epoch {epoch + 1}/{epochs} loss {total / (len(x) // 128):.3f} ({time.time() - t0:.0f}s)", flush=True)
    return steps


def augment(x, gen):
    """SimCLR views for 28x28 grayscale: random resized crop (by padding + crop + rescale), flip, brightness/contrast, noise."""
    n = x.shape[0]
    scale = 0.6 + 0.4 * torch.rand(n, generator=gen)
    tx = (torch.rand(n, generator=gen) * 2 - 1) * (1 - scale)
    ty = (torch.rand(n, generator=gen) * 2 - 1) * (1 - scale)
    flip = torch.where(torch.rand(n, generator=gen) < 0.5, -1.0, 1.0)
    theta = torch.zeros(n, 2, 3)
    theta[:, 0, 0] = scale * flip
    theta[:, 1, 1] = scale
    theta[:, 0, 2] = tx
    theta[:, 1, 2] = ty
    grid = F.affine_grid(theta, x.shape, align_corners=False)
    v = F.grid_sample(x, grid, align_corners=False, padding_mode="border")
    contrast = 0.6 + 0.8 * torch.rand(n, 1, 1, 1, generator=gen)
    bright = (torch.rand(n, 1, 1, 1, generator=gen) - 0.5) * 0.8
    return v * contrast + bright + 0.1 * torch.randn(v.shape, generator=gen)


def train_simclr(model, x, epochs, seed, temperature=0.5):
    gen = torch.Generator().manual_seed(seed)
    opt = torch.optim.AdamW(model.parameters(), lr=2e-3, weight_decay=1e-4)
    model.train()
    for epoch in range(epochs):
        t0, total, steps = time.time(), 0.0, 0
        for idx in batches(len(x), 256, gen):
            a, b = augment(x[idx], gen), augment(x[idx], gen)
            _, za = model(a)
            _, zb = model(b)
            z = F.normalize(torch.cat([za, zb]), dim=1)
            sim = z @ z.t() / temperature
            sim.fill_diagonal_(-1e9)
            n = len(idx)
            target = torch.cat([torch.arange(n, 2 * n), torch.arange(0, n)])
            loss = F.cross_entropy(sim, target)
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += loss.item()
            steps += 1
        print(f"  epoch {epoch + 1}/{epochs} NT-Xent {total / steps:.3f} ({time.time() - t0:.0f}s)", flush=True)


@torch.no_grad()
def features_of(model, x):
    model.eval()
    return torch.cat([model.features(x[i : i + 1000]) for i in range(0, len(x), 1000)])


def linear_probe(model, train, test, seed=0, epochs=100):
    """Frozen features, standardised, then a logistic-regression head trained full-batch with Adam."""
    torch.manual_seed(seed)
    ftr, fte = features_of(model, train[0]), features_of(model, test[0])
    mu, sd = ftr.mean(0), ftr.std(0) + 1e-6
    ftr, fte = (ftr - mu) / sd, (fte - mu) / sd
    head = nn.Linear(ftr.shape[1], 10)
    opt = torch.optim.Adam(head.parameters(), lr=0.05)
    for _ in range(epochs):
        loss = F.cross_entropy(head(ftr), train[1])
        opt.zero_grad()
        loss.backward()
        opt.step()
    return (head(fte).argmax(1) == test[1]).float().mean().item()


def export(model, path, output_names=("features", "logits")):
    model.eval()
    dummy = torch.zeros(1, 1, 28, 28)
    torch.onnx.export(
        model,
        dummy,
        path,
        opset_version=OPSET,
        input_names=["input"],
        output_names=list(output_names),
        dynamic_axes={"input": {0: "batch"}, **{o: {0: "batch"} for o in output_names}},
        do_constant_folding=True,
    )
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def preprocessing():
    return {"inputHeight": 28, "inputWidth": 28, "inputChannels": 1, "pixelScale": 1 / 255, "mean": [MEAN], "std": [STD]}


def make_zoo(epochs):
    torch.manual_seed(0)
    train, test = load_split(True), load_split(False)
    out_dir = os.path.join(HERE, "models")
    os.makedirs(out_dir, exist_ok=True)
    entries = []

    def add(name, model, architecture, training, trained_epochs, notes=""):
        t0 = time.time()
        acc = linear_probe(model, train, test)
        digest = export(model, os.path.join(out_dir, f"{name}.onnx"))
        entries.append({
            "name": name,
            "file": f"models/{name}.onnx",
            "architecture": architecture,
            "training": training,
            "epochs": trained_epochs,
            "featureOutput": "features",
            "featureDim": model.feature_dim,
            "sha256": digest,
            "linearProbeAccuracy": round(acc, 4),
            "notes": notes,
            "preprocessing": preprocessing(),
        })
        print(f"{name}: linear probe {acc:.4f} ({time.time() - t0:.0f}s)", flush=True)

    print("resnet-weak / resnet-sup: supervised small ResNet", flush=True)
    torch.manual_seed(1)
    resnet = SmallResNet()
    train_supervised(resnet, *train, epochs=1, seed=1, max_steps=150)
    add("resnet-weak", resnet, "small ResNet (3 basic blocks, 16-32-64 channels)", "supervised, early checkpoint", 150 * 128 / len(train[0]), "checkpoint after 150 steps of batch 128")
    train_supervised(resnet, *train, epochs=epochs, seed=2)
    add("resnet-sup", resnet, "small ResNet (3 basic blocks, 16-32-64 channels)", "supervised (cross-entropy, AdamW)", epochs + 150 * 128 / len(train[0]))

    print("mobilenet-sup", flush=True)
    torch.manual_seed(3)
    mobilenet = SmallMobileNet()
    train_supervised(mobilenet, *train, epochs=epochs, seed=3)
    add("mobilenet-sup", mobilenet, "MobileNetV2-style (inverted residuals, depthwise conv, SE, hard-swish)", "supervised (cross-entropy, AdamW)", epochs)

    print("simclr-convnet", flush=True)
    torch.manual_seed(4)
    simclr = ConvNet(out_dim=64)
    train_simclr(simclr, train[0], epochs=epochs, seed=4)
    add("simclr-convnet", simclr, "ConvNet (3 conv blocks) + 2-layer projection head", "self-supervised SimCLR (NT-Xent, t=0.5), no labels", epochs, "the `logits` output is the projection head")

    print("convnet-random", flush=True)
    torch.manual_seed(5)
    add("convnet-random", ConvNet(), "ConvNet (3 conv blocks)", "none (random initialisation)", 0)

    manifest = {
        "dataset": "Fashion-MNIST train split (60,000 images); probes evaluated on the 10,000-image test split",
        "opset": OPSET,
        "torch": torch.__version__,
        "priors": entries,
    }
    with open(os.path.join(HERE, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=2)
        f.write("\n")


@torch.no_grad()
def randomize(model, seed):
    """Weights that keep activations at a healthy scale, and non-trivial BatchNorm statistics,
    so a conversion error cannot hide behind near-zero outputs (torchvision zero-inits some heads)."""
    g = torch.Generator().manual_seed(seed)
    for m in model.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            fan_in = m.weight[0].numel()
            m.weight.copy_(torch.randn(m.weight.shape, generator=g) * (1.0 / fan_in) ** 0.5)
            if m.bias is not None:
                m.bias.copy_(torch.randn(m.bias.shape, generator=g) * 0.1)
        elif isinstance(m, (nn.BatchNorm2d, nn.LayerNorm)):
            m.weight.copy_(0.5 + torch.rand(m.weight.shape, generator=g))
            m.bias.copy_(torch.randn(m.bias.shape, generator=g) * 0.1)
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.copy_(torch.randn(m.running_mean.shape, generator=g) * 0.1)
                m.running_var.copy_(0.5 + torch.rand(m.running_var.shape, generator=g))
    for name, p in model.named_parameters():
        if "class_token" in name or "pos_embedding" in name:
            p.copy_(torch.randn(p.shape, generator=g) * 0.5)


def make_conformance():
    import torchvision

    out_dir = os.path.join(HERE, "conformance")
    os.makedirs(out_dir, exist_ok=True)
    torch.manual_seed(0)
    models = {
        "resnet18": (torchvision.models.resnet18(), 224),
        "mobilenet_v2": (torchvision.models.mobilenet_v2(), 224),
        "efficientnet_b0": (torchvision.models.efficientnet_b0(), 224),
        "vit_small": (
            torchvision.models.VisionTransformer(image_size=32, patch_size=8, num_layers=2, num_heads=4, hidden_dim=64, mlp_dim=128),
            32,
        ),
    }
    for seed, (name, (model, size)) in enumerate(models.items()):
        randomize(model, seed)
        model.eval()
        path = os.path.join(out_dir, f"{name}.onnx")
        torch.onnx.export(
            model,
            torch.zeros(1, 3, size, size),
            path,
            opset_version=OPSET,
            input_names=["input"],
            output_names=["logits"],
            dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}},
            do_constant_folding=True,
        )
        print(f"conformance {name}: {os.path.getsize(path) / 1e6:.1f} MB", flush=True)


class OpCoverage(nn.Module):
    """Small nets that each exercise conversion paths the zoo and torchvision models do not."""

    def __init__(self, kind):
        super().__init__()
        self.kind = kind
        self.bn = nn.BatchNorm2d(3)
        self.conv = nn.Conv2d(3, 8, 3, padding=1)
        self.grouped = nn.Conv2d(8, 8, 3, padding=1, groups=2)
        self.dw = nn.Conv2d(8, 16, 3, stride=2, padding=1, groups=8)
        self.fire_squeeze = nn.Conv2d(8, 4, 1)
        self.fire_a = nn.Conv2d(4, 8, 1)
        self.fire_b = nn.Conv2d(4, 8, 3, padding=1)
        self.ln = nn.LayerNorm(8)
        self.fc = nn.Linear(8, 5)

    def forward(self, x):
        k = self.kind
        if k == "standalone-batchnorm":
            return self.conv(F.relu(self.bn(x)))
        y = F.relu(self.conv(x))
        if k == "grouped-and-depthwise-conv":
            return self.dw(self.grouped(y))
        if k == "pools-with-padding":
            a = F.avg_pool2d(y, 3, stride=2, padding=1, ceil_mode=True, count_include_pad=False)
            b = F.avg_pool2d(y, 3, stride=2, padding=1, count_include_pad=True)
            c = F.max_pool2d(y, 3, stride=2, padding=1, ceil_mode=True)
            return torch.cat([a.flatten(1), b.flatten(1), c.flatten(1)], dim=1)
        if k == "channel-shuffle":
            n, c, h, w = y.shape
            y = y.view(n, 2, c // 2, h, w).transpose(1, 2).contiguous().view(n, c, h, w)
            return self.grouped(y)
        if k == "squeeze-fire-concat":
            s = F.relu(self.fire_squeeze(y))
            return torch.cat([F.relu(self.fire_a(s)), F.relu(self.fire_b(s))], 1)
        if k == "softmax-over-channels":
            return F.softmax(y, dim=1) * torch.sigmoid(y)
        if k == "split-pad-activations":
            a, b = torch.split(y, [3, 5], dim=1)
            a = F.pad(a, (1, 2, 0, 1), mode="reflect")[:, :, :16, :16]
            b = F.hardsigmoid(b) + F.leaky_relu(b, 0.1) - F.hardswish(b)
            return torch.cat([a, b], 1).pow(2).sqrt()
        if k == "tokens-layernorm-head":
            t = y.flatten(2).transpose(1, 2)
            t = self.ln(t).mean(dim=1)
            return self.fc(F.gelu(t))
        if k == "permute-and-reduce":
            z = y.permute(0, 2, 3, 1)
            return z.sum(dim=1) - y.amax(dim=2).transpose(1, 2)
        raise ValueError(k)


OP_COVERAGE = [
    "standalone-batchnorm",
    "grouped-and-depthwise-conv",
    "pools-with-padding",
    "channel-shuffle",
    "squeeze-fire-concat",
    "softmax-over-channels",
    "split-pad-activations",
    "tokens-layernorm-head",
    "permute-and-reduce",
]


def make_op_tests():
    out_dir = os.path.join(HERE, "op-tests")
    os.makedirs(out_dir, exist_ok=True)
    # The newest and the oldest opset the converter supports: inputs moved from attributes over time.
    for opset in (OPSET, 11):
        for seed, kind in enumerate(OP_COVERAGE):
            model = OpCoverage(kind)
            randomize(model, 100 + seed)
            model.eval()
            suffix = "" if opset == OPSET else f"-opset{opset}"
            torch.onnx.export(
                model,
                torch.zeros(1, 3, 16, 16),
                os.path.join(out_dir, f"{kind}{suffix}.onnx"),
                opset_version=opset,
                input_names=["input"],
                output_names=["output"],
                dynamic_axes={"input": {0: "batch"}, "output": {0: "batch"}},
            )
            print(f"op test {kind}{suffix}", flush=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--conformance", action="store_true")
    parser.add_argument("--conformance-only", action="store_true")
    parser.add_argument("--op-tests", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(2)
    if args.op_tests:
        make_op_tests()
        raise SystemExit(0)
    if args.conformance or args.conformance_only:
        make_conformance()
    if not args.conformance_only:
        make_zoo(args.epochs)
