"""The table layer: every job reads and writes its Delta tables through `TableStore`."""

from lib.storage.errors import SchemaMismatchError, TableNotFoundError, WriteConflictError, WriteError
from lib.storage.store import TableStore, WriteResult

__all__ = [
    "SchemaMismatchError",
    "TableNotFoundError",
    "TableStore",
    "WriteConflictError",
    "WriteError",
    "WriteResult",
]
