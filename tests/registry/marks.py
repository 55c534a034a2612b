"""Marks shared by the registry tests."""

import pytest

# The registry indexes the rating figures, not yet the `work` block (issue 21 landed after
# it): under greenai-2026.2, whose classes fix the phase, its re-rating grades nothing. These
# tests say what it must do; strict, so they fail once it does and the mark must go.
WORK_NOT_INDEXED = pytest.mark.xfail(
    strict=True,
    reason="the registry does not index the work block yet: under greenai-2026.2 (phase "
    "fixed per class) its columnar re-rating grades nothing",
)
