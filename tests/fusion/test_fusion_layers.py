"""Hui Li's ConvLayer: the inference path (padded buffer, phase-decomposed upsampled input) equals the literal one."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from rgbtfuse.fusion.layers import ConvLayer, add_phases_, reflect_pad_cat, upsample_like, upsampled_conv3x3_phases

CL = torch.channels_last


def _maps(seed: int, *shapes: tuple[int, ...], channels_last: bool = False) -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    out = [torch.randn(*s, generator=g) for s in shapes]
    return [t.contiguous(memory_format=CL) for t in out] if channels_last else out


@pytest.mark.parametrize("channels_last", [False, True])
@pytest.mark.parametrize("pad", [1, 2])
def test_reflect_pad_cat_equals_pad_of_cat(pad, channels_last):
    parts = _maps(0, (2, 3, 7, 6), (2, 5, 7, 6), (2, 1, 7, 6), channels_last=channels_last)
    out = reflect_pad_cat(parts, pad)
    torch.testing.assert_close(out, F.pad(torch.cat(parts, 1), (pad,) * 4, mode="reflect"), rtol=0, atol=0)
    assert out.is_contiguous(memory_format=CL if channels_last else torch.contiguous_format)
    assert reflect_pad_cat(parts[:1], 0) is parts[0]
    with pytest.raises(ValueError, match="larger than 2"):
        reflect_pad_cat(_maps(1, (1, 2, 2, 9)), 2)


def test_phase_kernels_convolve_the_upsampled_map():
    """conv3x3(reflect_pad(upsample_like(z))) == phases of 2×2 convs on replicate_pad(z), even and odd sizes."""
    (w,) = _maps(2, (5, 4, 3, 3))
    for fine in [(8, 10), (9, 11), (9, 10), (2, 3)]:
        (z,) = _maps(3, (2, 4, fine[0] // 2, fine[1] // 2))
        ref = F.conv2d(F.pad(upsample_like(z, torch.empty(1, 1, *fine)), (1, 1, 1, 1), mode="reflect"), w)
        out = add_phases_(torch.zeros(2, 5, *fine), F.conv2d(F.pad(z, (1, 1, 1, 1), mode="replicate"), upsampled_conv3x3_phases(w)))
        torch.testing.assert_close(out, ref, rtol=1e-5, atol=1e-5)


def _literal(layer: ConvLayer, parts: list[torch.Tensor], coarse: torch.Tensor | None) -> torch.Tensor:
    if coarse is not None:
        parts = [*parts, upsample_like(coarse, parts[0])]
    x = F.pad(torch.cat(parts, 1), (layer.pad,) * 4, mode="reflect")
    return F.relu(F.conv2d(x, layer.conv2d.weight, layer.conv2d.bias))


@pytest.mark.parametrize("channels_last", [False, True])
@pytest.mark.parametrize("fine", [(12, 14), (13, 15), (13, 14)])
def test_conv_layer_with_parts_and_coarse_map(fine, channels_last):
    torch.manual_seed(4)
    layer = ConvLayer(3 + 2 + 6, 7, 3)
    parts = _maps(5, (1, 3, *fine), (1, 2, *fine), channels_last=channels_last)
    (coarse,) = _maps(6, (1, 6, fine[0] // 2, fine[1] // 2), channels_last=channels_last)
    with torch.no_grad():
        ref = _literal(layer, parts, coarse)
        out = layer(parts, coarse)
        torch.testing.assert_close(out, ref, rtol=1e-5, atol=1e-5)
        single = ConvLayer(3, 7, 3)
        torch.testing.assert_close(single(parts[0]), _literal(single, parts[:1], None), rtol=1e-6, atol=1e-6)
    # the autograd path is the literal computation
    x = [p.clone().requires_grad_() for p in parts]
    grad_out = layer(x, coarse)
    torch.testing.assert_close(grad_out.detach(), ref, rtol=1e-5, atol=1e-5)
    grad_out.sum().backward()
    assert all(p.grad is not None for p in x)


def test_phase_weights_follow_weight_updates():
    """The cached per-phase kernels are rebuilt when the weights change (load_state_dict, optimiser step)."""
    torch.manual_seed(7)
    layer = ConvLayer(4 + 4, 3, 3)
    fine, coarse = _maps(8, (1, 4, 10, 10), (1, 4, 5, 5))
    with torch.no_grad():
        before = layer([fine], coarse)
        layer.load_state_dict({k: v * 2 for k, v in layer.state_dict().items()})
        after = layer([fine], coarse)
        torch.testing.assert_close(after, _literal(layer, [fine], coarse), rtol=1e-5, atol=1e-5)
    assert not torch.allclose(before, after)
    optimiser = torch.optim.SGD(layer.parameters(), lr=0.5)
    layer(fine.requires_grad_(), coarse).sum().backward()
    optimiser.step()
    with torch.no_grad():
        torch.testing.assert_close(layer([fine], coarse), _literal(layer, [fine], coarse), rtol=1e-5, atol=1e-5)


def test_coarse_map_of_another_size_falls_back_to_upsample_like():
    torch.manual_seed(9)
    layer = ConvLayer(2 + 3, 4, 3)
    fine, coarse = _maps(10, (1, 2, 10, 10), (1, 3, 4, 5))  # not 10 // 2: upsample + reflect pad
    with torch.no_grad():
        torch.testing.assert_close(layer([fine], coarse), _literal(layer, [fine], coarse), rtol=1e-6, atol=1e-6)


def test_nest_decoder_inference_takes_the_phase_path(monkeypatch):
    """Every decoder node with a coarse input uses the per-phase kernels (a silent fallback would only cost speed)."""
    from rgbtfuse.fusion import layers
    from rgbtfuse.image_fusion import create_model

    calls = []
    monkeypatch.setattr(layers, "add_phases_", lambda out, phases: calls.append(out.shape) or add_phases_(out, phases))
    model = create_model("nestfuse")
    with torch.inference_mode():
        model(torch.rand(1, 1, 37, 50), torch.rand(1, 1, 37, 50))
    assert len(calls) == 6  # DB1_1, DB2_1, DB1_2, DB3_1, DB2_2, DB1_3
    calls.clear()
    model(torch.rand(1, 1, 37, 50, requires_grad=True), torch.rand(1, 1, 37, 50))
    assert not calls  # autograd: the literal computation
