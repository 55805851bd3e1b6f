"""Owner handlers that auto-decide requests: a scientist must not be able to steer private
data into an auto-accepting handler.

A result's tags come only from inputs holding someone else's data, and only the tags every one
of them carries (unseen/node/_objects.py handler_tags); a scientist may not tag or make
searchable a value derived from someone else's data (object.tag). Both tests failed before.
"""

from __future__ import annotations

import numpy as np
import pytest
from security_support import Attacks, World, assert_clean, asset

import unseen


@pytest.fixture
def open_handler(world: World) -> object:
    handler = world.owner.call("handler.add", {"action": "accept", "tags": ["#open-data"]})
    yield handler
    world.owner.call("handler.remove", {"id": handler["id"]})


def test_own_tags_do_not_reach_an_accepting_handler(
    world: World, attacks: Attacks, open_handler: object
) -> None:
    data = asset(world, world.eve, "ndarray")
    mine = world.eve.send(np.zeros((6, 4)), tags=["#open-data"])
    mixed = data + mine
    mixed.request(name="mixed")
    attacks.refuse(mixed.get, expect=unseen.CannotRequestPrivateData)


def test_retagging_a_private_result_does_not_reach_an_accepting_handler(
    world: World, attacks: Attacks, open_handler: object
) -> None:
    result = (asset(world, world.eve, "ndarray") * 1).compute()
    try:
        world.eve.call("object.tag", {"id": result.id, "tags": ["#open-data"]})
    except unseen.UnseenError as exc:  # refusing the retag is a fix too
        assert_clean(exc)
        return
    result.request(name="retagged")
    attacks.refuse(result.get, expect=unseen.CannotRequestPrivateData)
