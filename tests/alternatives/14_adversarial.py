"""A correct submission of assignment 14_adversarial that differs from the solutions where the hint
was reduced (``fool_step``) and in the choice (``MY_EPSILON``); the other cells are the solutions.
Autograded, it must get full marks on every test cell."""
CELLS = {
    'linear_attack': '''
def linear_attack(w, x, b, epsilon):
    """Move ``x`` by ``epsilon`` per coordinate toward class 1 of ``sigmoid(w.x + b)``.

    Args:
        w: float tensor ``(D,)``, the weights.
        x: float tensor ``(D,)`` (one input) or ``(N, D)`` (a batch).
        b: a float, the bias.
        epsilon: a float, the change per coordinate (negative: toward class 0).

    Returns:
        A tuple ``(x_adv, p_before, p_after)``: ``x_adv = x + epsilon * sign(w)`` with the shape of
        ``x``, and the probabilities of class 1 before and after, tensors of shape ``()`` for one
        input or ``(N,)`` for a batch.

    Hint: ``torch.sign`` and ``torch.sigmoid``; ``x @ w`` works for both shapes. About 3 lines.
    """
    x_adv = x + epsilon * torch.sign(w)
    return x_adv, torch.sigmoid(x @ w + b), torch.sigmoid(x_adv @ w + b)
''',
    'fgsm': '''
def fgsm(model, images, labels, epsilon):
    """One FGSM step: ``clamp(images + epsilon * sign(grad of cross-entropy), 0, 1)``.

    Args:
        model: a classifier, ``(N, 3, H, W)`` in [0, 1] -> ``(N, C)`` logits; not changed.
        images: float tensor ``(N, 3, H, W)`` in [0, 1].
        labels: int64 tensor ``(N,)``, the labels of the loss.
        epsilon: a float in pixel units, e.g. ``8 / 255``.

    Returns:
        The adversarial images, ``(N, 3, H, W)`` in [0, 1], detached.

    Hint: ``F.cross_entropy``, ``torch.autograd.grad``, ``.sign()``, ``.clamp(0, 1)``. About 5 lines.
    """
    model.eval()
    x = images.detach().clone().requires_grad_(True)
    loss = F.cross_entropy(model(x), labels)
    (gradient,) = torch.autograd.grad(loss, x)
    return (images + epsilon * gradient.sign()).clamp(0, 1).detach()
''',
    'choose_epsilon': '''
MY_EPSILON = 16 / 255
''',
    'fool_step': '''
def fool_step(model, images, targets, confidence=0.99, overshoot=2.0, max_step=8 / 255):
    """One linearized step, with cross-entropy, flattened images and vector norms."""
    x = images.detach().requires_grad_()
    log_p = -F.cross_entropy(model(x), targets, reduction="none")  # (N,)
    (g,) = torch.autograd.grad(log_p, x, grad_outputs=torch.ones_like(log_p))
    g = g.flatten(1)  # (N, D)
    goal = torch.full_like(log_p, math.log(confidence))
    r = overshoot * (goal - log_p.detach()) / torch.clamp(torch.linalg.vector_norm(g, dim=1) ** 2, min=1e-30)
    r = g * r.unsqueeze(1)  # (N, D)
    size = torch.clamp(r.abs().mean(dim=1), min=1e-30)
    factor = torch.minimum(torch.ones_like(size), max_step / size)
    new = torch.clamp(images.flatten(1) + r * factor.unsqueeze(1), 0.0, 1.0).view_as(images)
    return new.detach(), torch.exp(log_p.detach())
''',
    'fool': '''
def fool(model, images, targets, max_steps=50, confidence=0.99):
    """Targeted fooling images: repeat :func:`fool_step` until every image reaches ``confidence``.

    Args:
        model, images, targets: as for :func:`fool_step`.
        max_steps: at most this many steps.
        confidence: an image stops changing once ``p(target) >= confidence``.

    Returns:
        ``(fooled_images, probabilities)``: ``(N, 3, H, W)`` in [0, 1] and ``p(target | fooled_images)``, ``(N,)``.

    Hint: call ``fool_step`` once per step and keep its result only for images that are not done
    (``torch.where`` with a ``(N, 1, 1, 1)`` mask); stop early when all are done; one last forward
    pass gives the final probabilities. About 10 lines.
    """
    model.eval()
    current = images.detach().clone()
    for _ in range(max_steps):
        stepped, probabilities = fool_step(model, current, targets, confidence)
        done = probabilities >= confidence
        if bool(done.all()):
            break
        current = torch.where(done[:, None, None, None], current, stepped)
    with torch.no_grad():
        probabilities = model(current).softmax(dim=1).gather(1, targets[:, None]).squeeze(1)
    return current, probabilities
''',
}
