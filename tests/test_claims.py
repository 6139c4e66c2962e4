"""The claim checks the lecture notebooks use to keep their sentences true to their numbers."""
import numpy as np
import pytest
import torch

from course_utils import claims, models


def test_a_holding_claim_prints_its_sentence_and_numbers(capsys):
    assert claims.check(2.47 > 2.16, "Fourier is higher", fourier=2.47, pixel=torch.tensor(2.16))
    assert capsys.readouterr().out.strip() == "claim holds: Fourier is higher (fourier 2.47, pixel 2.16)"


def test_a_broken_claim_raises_naming_the_sentence_and_numbers():
    with pytest.raises(claims.ClaimFailed, match=r'says "5 of 6 flip".*flipped 1'):
        claims.check(1 >= 5, "5 of 6 flip", flipped=1)


@pytest.mark.parametrize("condition", [torch.tensor([True, False]), np.array([1, 0], dtype=bool)])
def test_every_element_of_a_tensor_or_array_must_hold(condition):
    with pytest.raises(claims.ClaimFailed):
        claims.check(condition, "all of them")
    assert claims.check(condition | True, "all of them")


def test_a_claim_for_the_other_mode_is_skipped_and_says_so(monkeypatch, capsys):
    monkeypatch.setenv("COURSE_FAST", "1")
    assert claims.check(False, "true with full settings", only="full")
    assert "not checked in fast mode" in capsys.readouterr().out
    with pytest.raises(claims.ClaimFailed):
        claims.check(False, "true in FAST mode", only="fast")
    with pytest.raises(ValueError, match="only= takes"):
        claims.check(True, "x", only="quick")


def test_describe_names_the_model_in_use_and_its_weights():
    text = models.describe(models.load("alexnet", device="cpu"), models.load("vgg19", device="cpu"))
    lines = text.splitlines()
    assert lines[0].startswith("device cpu | FAST mode")
    assert lines[1].startswith("  alexnet -> shapenet: no ImageNet weights")
    assert lines[2].startswith("  vgg19 -> texturenet: no ImageNet weights")
