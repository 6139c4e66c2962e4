"""A correct submission of assignment 06_activations written differently from the solutions (other
operations, only the checks the docstrings promise), one solution cell by grade id; it must keep
full marks (see ``tests/test_nbgrader.py``)."""
CELLS = {
    "record_activations": '''
@contextmanager
def record_activations(model, layers):
    modules = [(name, get_layer(model, name)) for name in layers]
    store = {}

    def make_hook(name):
        def hook(module, inputs, output):
            store[name] = output.detach().clone()

        return hook

    handles = []
    try:
        for name, module in modules:
            handles.append(module.register_forward_hook(make_hook(name)))
        yield store
    finally:
        for handle in handles:
            handle.remove()
''',
    "layer_activations": '''
def layer_activations(model, images, layers):
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad(), record_activations(model, layers) as store:
            model(images)
    finally:
        model.train(was_training)
    return dict(store)
''',
    "unit_summary": '''
def unit_summary(output):
    if output.dim() not in (2, 4):
        raise ValueError("expected an (N, C) or (N, C, h, w) output")
    units = output.shape[1]
    per_unit = output.transpose(0, 1).reshape(units, -1)  # (C, every image and position)
    fired = (per_unit > 0).sum(dim=1)
    total = per_unit.shape[1]
    return fired.to(torch.float32) / total, fired == 0, fired == total
''',
    "choose_unit": '''
MY_LAYER = "classifier.5"
MY_UNIT = 27  # another unit, of another class
MY_CLASS = "star"
''',
}
