from __future__ import annotations

import pytest

from embeddings.models import EncoderState
from embeddings.selectors import active_encoder, encoders_to_write
from embeddings.services import space_encoder_activate, space_encoder_register


@pytest.mark.django_db
def test_first_encoder_is_active_and_a_new_one_backfills_until_activated() -> None:
    first = space_encoder_register(space="visual", identity="old@1", dim=16)
    second = space_encoder_register(space="visual", identity="new@2", dim=24)
    assert first.state == EncoderState.ACTIVE
    assert second.state == EncoderState.BACKFILLING
    assert active_encoder("visual") is not None and active_encoder("visual").identity == "old@1"  # type: ignore[union-attr]
    assert [e.identity for e in encoders_to_write("visual")] == ["old@1", "new@2"]

    space_encoder_activate(space="visual", identity="new@2")

    current = active_encoder("visual")
    assert current is not None and (current.identity, current.dim, current.name) == ("new@2", 24, "new")
    assert [e.identity for e in encoders_to_write("visual")] == ["new@2"]


@pytest.mark.django_db
def test_registering_twice_returns_the_same_row() -> None:
    assert space_encoder_register(space="semantic", identity="s@1", dim=8).pk == (
        space_encoder_register(space="semantic", identity="s@1", dim=8).pk
    )
    assert active_encoder("visual") is None
