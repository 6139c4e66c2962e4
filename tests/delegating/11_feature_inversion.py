"""What a student who delegates every graded function of assignment 11_feature_inversion to the course writes
(one solution cell, by grade id, at a time); see ``tests/test_nbgrader.py``."""
CELLS = {
    "tv_regularizer": '''
def tv_regularizer(images, beta=2.0):
    return synthesis.tv_loss(images, beta)
''',
    "inversion_loss": '''
def inversion_loss(features, target, images, tv_weight=0.02, beta=2.0):
    ctx = Context(image=images, input=images, output=features, acts={})
    return synthesis.feature_match(None, target)(ctx) + tv_weight * synthesis.tv_loss(images, beta)
''',
    "invert_layer": '''
def invert_layer(model, images, layer, steps=30, lr=0.05, tv_weight=0.02, beta=2.0, seed=0):
    result = synthesis.invert(model, images, layer, steps=steps, tv_weight=tv_weight, beta=beta, lr=lr, seed=seed)
    return result.image, result.history
''',
    "choose_tv_weight": '''
MY_TV_WEIGHT = 20.0
''',
}
