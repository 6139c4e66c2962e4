"""TextureNet: a random, multi-scale, single-layer network used as an offline feature extractor.

Ustyuzhaninov, Brendel, Gatys and Bethge (2016), "Texture synthesis using shallow convolutional
networks with random filters" (arXiv:1606.00021), showed that Gram matrices of *one* layer of
random filters at several kernel sizes already synthesize convincing textures. It needs no
training, so the offline course uses it wherever the lecture uses VGG-19 as a feature
extractor (style transfer, texture synthesis, inversion). Its filters are drawn from a fixed
seed, so every install builds the same network.
"""
from __future__ import annotations

import torch
from torch import nn

KERNEL_SIZES = (3, 5, 7, 11, 15, 23)


class TextureNet(nn.Module):
    """``branches.k{size}`` = conv(size x size, ``channels`` random filters) + ReLU, in parallel.

    Input ``(N, 3, H, W)`` (normalized); output ``(N, channels * len(kernel_sizes))``: the
    spatial mean of every branch (a texture "code"). Capture ``branches.k*`` for feature maps.
    """

    def __init__(self, kernel_sizes=KERNEL_SIZES, channels: int = 64, seed: int = 0):
        super().__init__()
        self.branches = nn.ModuleDict(
            {
                f"k{size}": nn.Sequential(nn.Conv2d(3, channels, size, padding=size // 2), nn.ReLU())
                for size in kernel_sizes
            }
        )
        self.reset_filters(seed)

    @torch.no_grad()
    def reset_filters(self, seed: int = 0) -> None:
        """Draw zero-mean random filters (unit-variance responses on whitened input), zero biases."""
        generator = torch.Generator().manual_seed(seed)
        for branch in self.branches.values():
            conv = branch[0]
            weight = torch.randn(conv.weight.shape, generator=generator)
            weight -= weight.mean(dim=(1, 2, 3), keepdim=True)  # respond to structure, not brightness
            fan_in = weight[0].numel()
            conv.weight.copy_(weight / fan_in**0.5)
            conv.bias.zero_()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([branch(x).mean((2, 3)) for branch in self.branches.values()], dim=1)


ROLES = {
    "first_conv": "branches.k11.0",
    "conv_layers": [f"branches.k{k}.0" for k in KERNEL_SIZES],
    "content": "branches.k7",
    "style": [f"branches.k{k}" for k in KERNEL_SIZES],
    "deepdream": "branches.k11",
}
