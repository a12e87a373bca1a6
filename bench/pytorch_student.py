"""PyTorch CPU reference for the student-training benchmark: the same ConvNet as
server/src/training/student-models.ts (three conv-BN-ReLU blocks of 32, 64 and 128 channels,
max-pooled between, global average, linear head), AdamW, MSE, the same batch size and data.
Prints one JSON line: images per second over the timed epochs."""
import json
import sys
import time

import numpy as np
import torch
from torch import nn

images_path, targets_path, batch, epochs = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
x = torch.from_numpy(np.load(images_path)).float().div(255).sub(0.5).div(0.25).unsqueeze(1)
y = torch.from_numpy(np.load(targets_path)).float()
y = (y - y.mean(0)) / y.std(0).clamp_min(1e-6)


def block(cin, cout):
    return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU())


model = nn.Sequential(
    block(1, 32), nn.MaxPool2d(2, ceil_mode=True),
    block(32, 64), nn.MaxPool2d(2, ceil_mode=True),
    block(64, 128), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
    nn.Linear(128, y.shape[1]),
)
opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=5e-4)
loss_fn = nn.MSELoss()


def epoch():
    order = torch.randperm(x.shape[0])
    for i in range(0, x.shape[0], batch):
        idx = order[i:i + batch]
        opt.zero_grad()
        loss = loss_fn(model(x[idx]), y[idx])
        loss.backward()
        opt.step()


epoch()  # warm-up
start = time.perf_counter()
for _ in range(epochs):
    epoch()
seconds = time.perf_counter() - start
print(json.dumps({"imagesPerSecond": x.shape[0] * epochs / seconds, "threads": torch.get_num_threads()}))
