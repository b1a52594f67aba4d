"""Guardrails over samples near the float range, stored before the accepted range existed."""

from __future__ import annotations

import sys
from datetime import UTC, datetime

import numpy as np
import pytest

from tests.guardrails.conftest import add, make_guarded, watch_settings, worse_data
from tests.guardrails.test_evaluate import _evaluate
from tsmetrics.analysis import stats
from tsmetrics.guardrails.watch import Watcher
from tsmetrics.store import guardrails as store

BIGGEST = sys.float_info.max


@pytest.mark.parametrize("unit", ["sample", "time"])
@pytest.mark.parametrize("planted", [1e200, 1e300, BIGGEST, -BIGGEST])
def test_a_poisoned_guardrail_is_refused_and_the_others_still_judged(db, unit, planted):
    poisoned = make_guarded(db, unit=unit)
    other = make_guarded(db, "other", "latency")
    control, treatment = worse_data()
    for g in (poisoned, other):
        add(db, g, 0, control)
        add(db, g, 1, treatment)
    # Planted in the treatment, in the middle of the window, as old data would lie.
    add(db, poisoned, 1, np.concatenate([treatment[:10], [planted], treatment[:10]]))
    assert Watcher(watch_settings(db.info.dsn, None)).run(once=True) == 0
    assert store.list_states(db, poisoned.test.id) == []  # refused: no state, no alert
    (state,) = store.list_states(db, other.test.id)
    assert state.state == "raised"
    outcomes = {e.abtest_id: e.outcomes for e in _evaluate(db, datetime.now(UTC)).values()}
    (outcome,) = outcomes[poisoned.test.id]
    assert outcome.refusal == stats.UNREPRESENTABLE and outcome.state is None
