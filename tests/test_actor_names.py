"""The repr the dashboard's Actors view shows for a trial's actor, with and without reuse."""

from __future__ import annotations

from tune.sweep.trial_monitor import named_trial_actor


class FakeTrialState:
    """Stands in for the attributes Ray's trainable sets before the repr is read."""

    trial_id = "3f2a1_00004"
    config = {"model": "gru"}


def test_an_actor_of_its_own_is_named_after_its_trial():
    actor = named_trial_actor(FakeTrialState, "news", "lstm", reused=False)()
    assert repr(actor) == "news trial 3f2a1_00004 gru"


def test_a_reused_actor_is_named_after_its_sweep_not_its_first_trial():
    actor = named_trial_actor(FakeTrialState, "news", "lstm", reused=True)()
    assert repr(actor).startswith("news trials (actor reused")
    assert "3f2a1_00004" not in repr(actor)
