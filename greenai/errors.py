"""Errors and warnings raised by greenai. Every message says what, where, and what to do."""

from __future__ import annotations


class GreenAIError(Exception):
    """Base class of every error greenai raises on purpose."""


class ProbeError(GreenAIError):
    """A hardware probe could not be opened or read."""


class StandardError(GreenAIError):
    """A standard file is malformed or inconsistent."""


class DisclosureError(GreenAIError):
    """A disclosure/result file is malformed or fails validation."""


class SiteError(GreenAIError):
    """A site profile or factor table is malformed or names an unknown value."""


class GreenAIWarning(UserWarning):
    """A problem greenai recovered from (a probe failed, a model was used instead of a counter)."""
