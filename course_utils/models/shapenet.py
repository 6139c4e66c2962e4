"""ShapeNet: a small AlexNet-style classifier for the synthetic shapes dataset.

The offline stand-in for the ImageNet classifiers. It keeps AlexNet's anatomy (Krizhevsky et
al. 2012) at 1/50 of the size, and torchvision's module names, so the lecture's roles map
one-to-one: ``features`` (a large-kernel strided first convolution, then conv-ReLU-pool
blocks) and ``classifier`` (fully connected layers; ``classifier.5`` is the 256-d "code").
ReLUs are modules, as in torchvision, so hooks and gradient tricks see them.
"""
from __future__ import annotations

import torch
from torch import nn


class ShapeNet(nn.Module):
    """Input ``(N, 3, H, W)`` (normalized), ``H, W >= 32``; output ``(N, num_classes)`` logits."""

    def __init__(self, num_classes: int = 10, code_size: int = 256, dropout: float = 0.1):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 48, kernel_size=9, stride=2, padding=4),  # 0  conv1: 64 -> 32
            nn.ReLU(inplace=True),  # 1
            nn.MaxPool2d(kernel_size=3, stride=2, padding=1),  # 2  32 -> 16
            nn.Conv2d(48, 96, kernel_size=3, padding=1),  # 3  conv2
            nn.ReLU(inplace=True),  # 4
            nn.MaxPool2d(kernel_size=2, stride=2),  # 5  16 -> 8
            nn.Conv2d(96, 128, kernel_size=3, padding=1),  # 6  conv3
            nn.ReLU(inplace=True),  # 7
            nn.Conv2d(128, 128, kernel_size=3, padding=1),  # 8  conv4
            nn.ReLU(inplace=True),  # 9
            nn.MaxPool2d(kernel_size=2, stride=2),  # 10 8 -> 4
        )
        self.avgpool = nn.AdaptiveAvgPool2d((4, 4))
        self.classifier = nn.Sequential(
            nn.Dropout(dropout),  # 0
            nn.Linear(128 * 4 * 4, code_size),  # 1  fc6
            nn.ReLU(inplace=True),  # 2
            nn.Dropout(dropout),  # 3
            nn.Linear(code_size, code_size),  # 4  fc7
            nn.ReLU(inplace=True),  # 5  the "CNN code"
            nn.Linear(code_size, num_classes),  # 6  class scores
        )
        for module in self.modules():  # He initialization: keeps ReLU activations alive
            if isinstance(module, (nn.Conv2d, nn.Linear)):
                nn.init.kaiming_normal_(module.weight, nonlinearity="relu")
                nn.init.zeros_(module.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.avgpool(self.features(x))  # (N, 128, 4, 4)
        return self.classifier(torch.flatten(x, 1))


ROLES = {
    "first_conv": "features.0",
    "conv_layers": ["features.0", "features.3", "features.6", "features.8"],
    "last_conv": "features.9",
    "code": "classifier.5",
    "logits": "classifier.6",
    "content": "features.7",
    "style": ["features.1", "features.4", "features.7", "features.9"],
    "deepdream": "features.7",
}
