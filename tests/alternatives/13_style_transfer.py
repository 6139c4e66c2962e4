"""A correct submission of assignment 13_style_transfer that differs from the solutions where the hint
was reduced (``tv_loss``) and in the choice (``BETA``); the other cells are the solutions.
Autograded, it must get full marks on every test cell."""
CELLS = {
    'content_loss': '''
def content_loss(features, target):
    """The content loss of each image: the mean over channels and positions of ``(F - P)^2``.

    Args:
        features: ``F``, float tensor ``(N, C, H, W)``: the feature maps of the images being optimized.
        target: ``P``, float tensor ``(N, C, H, W)`` or ``(1, C, H, W)`` (then used for every image):
            the content image's feature maps at the same layer.

    Returns:
        A tensor ``(N,)``: ``mean((F - P)^2)`` over ``(C, H, W)`` for each image (Gatys et al.
        2015, eq. 1, divided by ``C H W / 2``). It keeps the autograd graph of ``features``.

    Raises:
        ValueError: if ``target.shape[1:]`` differs from ``features.shape[1:]``.

    Hint: broadcasting handles a target batch of 1; ``flatten(1)`` then ``mean(dim=1)``. About 3 lines.
    """
    if features.ndim != 4 or target.shape[1:] != features.shape[1:]:
        raise ValueError(f"target {tuple(target.shape)} does not match features {tuple(features.shape)}")
    return (features - target).pow(2).flatten(1).mean(dim=1)
''',
    'gram_matrix': '''
def gram_matrix(features):
    """The Gram matrix of each image's feature maps, normalized by the number of positions.

    Args:
        features: float tensor ``(N, C, H, W)``.

    Returns:
        A tensor ``(N, C, C)``: ``G = F F^T / (H W)`` where ``F`` is the ``(C, H W)`` matrix of
        one image's feature maps (one row per channel). Entry ``(c, d)`` is the mean over the
        ``H W`` positions of channel ``c`` times channel ``d`` (Gatys et al. 2015, eq. 3, divided
        by ``H W``).

    Raises:
        ValueError: if ``features`` is not 4-D.

    Hint: ``reshape`` to ``(N, C, H W)``, then a batched matrix product (``@`` and
    ``transpose(1, 2)``). No loops. About 4 lines.
    """
    if features.ndim != 4:
        raise ValueError(f"gram_matrix takes feature maps (N, C, H, W), got shape {tuple(features.shape)}")
    n, c, h, w = features.shape
    flat = features.reshape(n, c, h * w)  # (N, C, HW)
    return flat @ flat.transpose(1, 2) / (h * w)  # (N, C, C)
''',
    'style_loss': '''
def style_loss(features, targets, weights=None):
    """The style loss of each image: a weighted sum over layers of ``mean((G_l - A_l)^2)``.

    Args:
        features: a list of ``L`` feature maps, one per style layer, each ``(N, C_l, H_l, W_l)``
            (the images being optimized).
        targets: a list of ``L`` Gram matrices ``A_l`` of the style image, each ``(1, C_l, C_l)``
            or ``(N, C_l, C_l)``, normalized as in :func:`gram_matrix`.
        weights: a list of ``L`` floats ``w_l``; ``None`` (the default) means ``1 / L`` each.

    Returns:
        A tensor ``(N,)``: ``sum_l w_l * mean((G_l - A_l)^2)`` with ``G_l = gram_matrix(features[l])``
        and the mean over the ``C_l x C_l`` entries (Gatys et al. 2015, eqs. 4-5, up to constants).

    Raises:
        ValueError: if ``features``, ``targets`` (and ``weights``, when given) differ in length.

    Hint: call your ``gram_matrix``; one loop over the layers (not over pixels). About 8 lines.
    """
    count = len(features)
    if count != len(targets) or (weights is not None and len(weights) != count):
        raise ValueError("features, targets and weights must have one entry per style layer")
    per_layer = torch.stack([((gram_matrix(f) - a) ** 2).mean(dim=(-2, -1)) for f, a in zip(features, targets)])  # (L, N)
    w = torch.full((count,), 1.0 / count) if weights is None else torch.as_tensor(weights, dtype=per_layer.dtype)
    return (w.to(per_layer.device)[:, None] * per_layer).sum(dim=0)
''',
    'tv_loss': '''
def tv_loss(images, gamma=2.0):
    """Total variation per image, with torch.diff instead of slicing and subtracting."""
    if images.dim() != 4:
        raise ValueError("images must be (N, C, H, W)")
    if not gamma > 0:
        raise ValueError("gamma must be positive")
    right = torch.diff(images, dim=3)[:, :, :-1, :]  # (N, C, H-1, W-1)
    down = torch.diff(images, dim=2)[:, :, :, :-1]  # (N, C, H-1, W-1)
    s = right * right + down * down
    if gamma != 2:
        s = torch.pow(s + 1e-8, 0.5 * gamma)
    height, width = images.shape[2], images.shape[3]
    return torch.sum(s, dim=(1, 2, 3)) / (height * width)
''',
    'choose_style_weight': '''
BETA = 100.0
''',
}
