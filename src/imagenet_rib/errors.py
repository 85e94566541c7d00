"""Exception types. Every message names the problem and the fix."""

from __future__ import annotations


class RIBError(Exception):
    """Base class of every error this library raises on purpose."""


class UnknownNameError(RIBError, KeyError):
    """A name is not in a registry (dataset, model, method, metric, ...)."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class DuplicateNameError(RIBError, ValueError):
    """A name is registered twice."""


class ConfigError(RIBError, ValueError):
    """A configuration value is invalid."""


class DatasetError(RIBError):
    """A dataset is missing, corrupt or inconsistent with its registry entry."""


class CacheError(RIBError):
    """A cache entry is unreadable; the message says how to rebuild it."""


class ModelNotAvailableError(RIBError):
    """Weights cannot be loaded (offline, not cached); the message says how to get them."""


class TrainingDivergedError(RIBError):
    """Training produced a non-finite loss or non-finite weights; nothing was recorded."""
