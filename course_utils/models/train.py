"""Train the offline ShapeNet on freshly generated synthetic shapes.

    python -m course_utils.models.train                       # the committed weights
    python -m course_utils.models.train --epochs 2 --images-per-epoch 512 --out /tmp/s.pt

Every epoch draws *new* images (seed = base seed + epoch), so the network never sees the
same image twice and cannot overfit; validation uses a separate seed. AdamW with a one-cycle
learning rate; a stronger weight decay on the first layer keeps its filters smooth, so they
look like the oriented edges and colour blobs of AlexNet's conv1 rather than noise.
Batch normalization after each convolution speeds training up; when training ends it is
folded into the convolution's weights and bias (exact in eval mode), so the saved network is
a plain AlexNet-style stack of conv-ReLU-pool layers. Reproducible by seed on the same machine.
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from ..config import WEIGHTS_DIR, seed_everything
from ..data.synthetic import CLASSES, make_shapes
from .shapenet import ShapeNet

DEFAULT_OUT = WEIGHTS_DIR / "shapenet.pt"
VALIDATION_SEED = 999_983


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=36)
    parser.add_argument("--images-per-epoch", type=int, default=8192)
    parser.add_argument("--validation-images", type=int, default=2000)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=4e-3)
    parser.add_argument("--weight-decay", type=float, default=0.05)
    parser.add_argument("--first-layer-decay", type=float, default=0.2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    return parser


class ConvBN(nn.Sequential):
    """A convolution followed by batch normalization, used only while training."""

    def __init__(self, conv: nn.Conv2d):
        super().__init__(conv, nn.BatchNorm2d(conv.out_channels))


def with_batch_norm(net: ShapeNet) -> ShapeNet:
    """Wrap every convolution of ``net.features`` in :class:`ConvBN` (in place)."""
    for index, layer in enumerate(net.features):
        if isinstance(layer, nn.Conv2d):
            net.features[index] = ConvBN(layer)
    return net


@torch.no_grad()
def fold_batch_norm(net: ShapeNet) -> ShapeNet:
    """Fold each :class:`ConvBN` into a plain convolution: ``w' = w g / s``, ``b' = (b - m) g / s + beta``
    with ``s = sqrt(running_var + eps)``. Exact for the network in eval mode."""
    for index, layer in enumerate(net.features):
        if isinstance(layer, ConvBN):
            conv, bn = layer
            scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)  # (C_out,)
            conv.weight.mul_(scale.view(-1, 1, 1, 1))
            conv.bias.copy_((conv.bias - bn.running_mean) * scale + bn.bias)
            net.features[index] = conv
    return net


@torch.no_grad()
def accuracy(net: torch.nn.Module, images: torch.Tensor, labels: torch.Tensor, batch_size: int = 500) -> float:
    """Top-1 accuracy of ``net`` (which takes *normalized* inputs) in eval mode."""
    was_training = net.training
    net.eval()
    correct = sum(
        (net(images[i : i + batch_size]).argmax(1) == labels[i : i + batch_size]).sum().item()
        for i in range(0, len(labels), batch_size)
    )
    net.train(was_training)
    return correct / max(len(labels), 1)


def train(args: argparse.Namespace, log=print) -> dict:
    """Train and return the checkpoint dict (also written to ``args.out`` unless it is None)."""
    seed_everything(args.seed)
    first = make_shapes(args.images_per_epoch, seed=args.seed * 1000 + 1)
    mean = first.images.mean((0, 2, 3))
    std = first.images.std((0, 2, 3))
    normalize = lambda x: (x - mean.view(1, 3, 1, 1)) / std.view(1, 3, 1, 1)  # noqa: E731
    validation = make_shapes(args.validation_images, seed=VALIDATION_SEED + args.seed)
    val_images = normalize(validation.images)

    net = with_batch_norm(ShapeNet(num_classes=len(CLASSES)))
    first_layer = list(net.features[0][0].parameters())
    others = [p for n, p in net.named_parameters() if not n.startswith("features.0.0.")]
    optimizer = torch.optim.AdamW(
        [
            {"params": first_layer, "weight_decay": args.first_layer_decay},
            {"params": others, "weight_decay": args.weight_decay},
        ],
        lr=args.lr,
    )
    steps_per_epoch = -(-args.images_per_epoch // args.batch_size)
    schedule = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=args.lr, epochs=args.epochs, steps_per_epoch=steps_per_epoch, pct_start=0.2
    )
    history = []
    for epoch in range(args.epochs):
        start = time.time()
        data = first if epoch == 0 else make_shapes(args.images_per_epoch, seed=args.seed * 1000 + epoch + 1)
        images, labels = normalize(data.images), data.labels
        order = torch.randperm(len(labels))
        net.train()
        total_loss = 0.0
        for step in range(steps_per_epoch):
            index = order[step * args.batch_size : (step + 1) * args.batch_size]
            batch = images[index]
            flip = torch.rand(len(index)) < 0.5
            batch = torch.where(flip[:, None, None, None], batch.flip(-1), batch)
            loss = F.cross_entropy(net(batch), labels[index], label_smoothing=0.05)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
            total_loss += loss.item() * len(index)
        val_accuracy = accuracy(net, val_images, validation.labels)
        history.append({"epoch": epoch + 1, "loss": total_loss / len(labels), "val_accuracy": val_accuracy})
        log(
            f"epoch {epoch + 1:3d}/{args.epochs}  loss {total_loss / len(labels):.4f}  "
            f"val acc {val_accuracy:.4f}  ({time.time() - start:.0f} s)"
        )
    net = fold_batch_norm(net.eval())
    final_accuracy = accuracy(net, val_images, validation.labels)
    log(f"after folding batch norm: val acc {final_accuracy:.4f}")
    checkpoint = {
        "state_dict": {k: v.half() for k, v in net.state_dict().items()},  # half: small file
        "mean": mean.tolist(),
        "std": std.tolist(),
        "classes": list(CLASSES),
        "val_accuracy": final_accuracy,
        "history": history,
        "args": {k: str(v) for k, v in vars(args).items() if k != "out"},
        "torch_version": str(torch.__version__),
    }
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        torch.save(checkpoint, args.out)
        log(f"saved {args.out} ({args.out.stat().st_size / 1e6:.1f} MB)")
    return checkpoint


def main(argv=None) -> None:
    train(_parser().parse_args(argv))


if __name__ == "__main__":
    main()
