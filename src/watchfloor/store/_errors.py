"""Translation of database driver errors into the core's errors."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy.exc import DBAPIError, IntegrityError, StatementError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

from watchfloor.core.errors import ConflictError, StoreUnavailableError, WatchfloorError

__all__ = ["UNAVAILABLE_ERRORS", "translate_errors"]

#: Failures of the database or the way to it, as opposed to bugs in our statements'
#: construction (``ArgumentError``, ``CompileError``), which propagate unchanged.
UNAVAILABLE_ERRORS = (DBAPIError, PoolTimeoutError, OSError)


@contextmanager
def translate_errors(action: str) -> Iterator[None]:
    """Translate driver errors raised in the block, naming the action that failed.

    A violated constraint becomes ConflictError; any other failure of the database or of
    the way to it becomes StoreUnavailableError. Errors of our own making propagate.
    """
    try:
        yield
    except IntegrityError as err:
        raise ConflictError(f"cannot {action}: conflicts with stored data") from err
    except UNAVAILABLE_ERRORS as err:
        raise StoreUnavailableError(f"cannot {action}: the store is unavailable") from err
    except StatementError as err:
        # A column type's own error (a secret with no key to seal it), wrapped by SQLAlchemy.
        if isinstance(err.orig, WatchfloorError):
            raise err.orig from err
        raise
