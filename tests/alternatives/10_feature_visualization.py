"""A correct submission of assignment 10_feature_visualization written differently from the solutions
where the hints say least (the clipping rules) and for the choice, the solutions elsewhere, one solution
cell (by grade id) at a time: it must get full marks on every test cell."""
CELLS = {
    "decay_blur": '''
def decay(image, rate, center=0.5):
    if not 0 <= rate <= 1:
        raise ValueError(f"rate must be in [0, 1], got {rate}")
    return center + (1 - rate) * (image - center)


def gaussian_blur(image, sigma):
    import math

    import torch.nn.functional as F

    if sigma <= 0:
        return image
    radius = math.ceil(3 * sigma)
    t = torch.arange(-radius, radius + 1, dtype=image.dtype, device=image.device)
    kernel = torch.exp(-(t**2) / (2 * sigma**2))
    kernel = kernel / kernel.sum()
    channels = image.shape[1]
    padded = F.pad(image, (radius, radius, radius, radius), mode="reflect")
    rows = F.conv2d(padded, kernel.view(1, 1, -1, 1).repeat(channels, 1, 1, 1), groups=channels)
    return F.conv2d(rows, kernel.view(1, 1, 1, -1).repeat(channels, 1, 1, 1), groups=channels)
''',
    "clipping": '''
def _percentile_of_each(scores, pct):
    """(N, H, W) -> (N,): each image's pct-th percentile, interpolated linearly between ranks."""
    ordered = scores.reshape(len(scores), -1).sort(dim=1).values
    rank = pct / 100 * (ordered.shape[1] - 1)
    low = int(rank)
    high = min(low + 1, ordered.shape[1] - 1)
    return ordered[:, low] + (rank - low) * (ordered[:, high] - ordered[:, low])


def _to_center_below(image, scores, pct, center):
    if not 0 <= pct <= 100:
        raise ValueError(f"pct must be in [0, 100], got {pct}")
    keep = (scores >= _percentile_of_each(scores, pct).view(-1, 1, 1)).unsqueeze(1).to(image.dtype)  # (N, 1, H, W)
    return image * keep + torch.as_tensor(center, dtype=image.dtype) * (1 - keep)


def clip_small_norm(image, pct, center=0.5):
    scores = ((image - center) ** 2).sum(dim=1).sqrt()  # (N, H, W)
    return _to_center_below(image, scores, pct, center)


def clip_small_contribution(image, grad, pct, center=0.5):
    if grad.shape != image.shape:
        raise ValueError(f"grad has shape {tuple(grad.shape)}, image {tuple(image.shape)}")
    scores = torch.einsum("nchw,nchw->nhw", image - center, grad).abs()
    return _to_center_below(image, scores, pct, center)
''',
    "choose_settings": '''
MY_SETTINGS = dict(norm_pct=66, blur_sigma=0.8, blur_every=2)
''',
}
