"""Errors of the table layer; each message names the table and what is wrong."""


class WriteError(RuntimeError):
    """A write did not land; the table is exactly as it was before the write started."""


class SchemaMismatchError(WriteError):
    """The DataFrame's schema differs from the table's; nothing was written."""


class WriteConflictError(WriteError):
    """A concurrent writer committed to the same partitions first; nothing was written."""


class TableNotFoundError(FileNotFoundError):
    """The table does not exist (no Delta log at its path)."""
