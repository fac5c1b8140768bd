"""The shared-prefix decoding attention equals transformers' sdpa attention."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from transformers.integrations.sdpa_attention import sdpa_attention_forward  # noqa: E402

from sensecf.llm.prefix_attention import ATTRIBUTE, prefix_attention, shared_prefix  # noqa: E402


def _batch(rows: int = 5, kv_heads: int = 3, groups: int = 3, shared: int = 11, own: int = 9):
    generator = torch.Generator().manual_seed(0)
    dim = 16
    query = torch.randn(rows, kv_heads * groups, 1, dim, generator=generator)
    common = torch.randn(1, kv_heads, shared, dim, generator=generator)
    keys = torch.cat(
        [
            common.expand(rows, -1, -1, -1),
            torch.randn(rows, kv_heads, own, dim, generator=generator),
        ],
        dim=2,
    )
    common = torch.randn(1, kv_heads, shared, dim, generator=generator)
    values = torch.cat(
        [
            common.expand(rows, -1, -1, -1),
            torch.randn(rows, kv_heads, own, dim, generator=generator),
        ],
        dim=2,
    )
    # Left padding: row r does not see its first r own positions.
    mask = torch.ones(rows, 1, 1, shared + own, dtype=torch.bool)
    for r in range(rows):
        mask[r, ..., shared : shared + r] = False
    module = SimpleNamespace(num_key_value_groups=groups, is_causal=True, training=False)
    return module, query, keys, values, mask


def test_equals_sdpa_with_a_boolean_mask() -> None:
    module, query, keys, values, mask = _batch()
    expected, _ = sdpa_attention_forward(module, query, keys, values, mask, scaling=0.25)
    setattr(module, ATTRIBUTE, 11)
    got, _ = prefix_attention(module, query, keys, values, mask, scaling=0.25)
    assert got.shape == expected.shape == (5, 1, 9, 16)
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-5)


def test_equals_sdpa_with_an_additive_mask() -> None:
    module, query, keys, values, mask = _batch(rows=4, kv_heads=2, groups=4)
    additive = torch.zeros(mask.shape).masked_fill(~mask, float("-inf"))
    expected, _ = sdpa_attention_forward(module, query, keys, values, additive)
    setattr(module, ATTRIBUTE, 11)
    got, _ = prefix_attention(module, query, keys, values, additive)
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-5)


def test_a_wrong_prefix_would_show() -> None:
    # The check above is not vacuous: rows whose starts differ give another answer.
    module, query, keys, values, mask = _batch()
    keys = keys.clone()
    keys[1:, :, :11] += 1.0
    expected, _ = sdpa_attention_forward(module, query, keys, values, mask)
    setattr(module, ATTRIBUTE, 11)
    got, _ = prefix_attention(module, query, keys, values, mask)
    assert not torch.allclose(got, expected, atol=1e-3)


def test_the_attribute_lives_only_inside_the_block() -> None:
    layer = torch.nn.Module()
    layer.num_key_value_groups = 3
    model = torch.nn.Sequential(layer)
    with shared_prefix(model, 7):
        assert getattr(layer, ATTRIBUTE) == 7
    assert not hasattr(layer, ATTRIBUTE)
