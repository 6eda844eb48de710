"""COBOL copybooks: the layout of a record (``parser``), JSON ↔ record bytes (``codec``, one
item's bytes in ``fields``), in a dataset's encoding (``codepages``), framed as a dataset
frames its records (``record_formats``)."""

from .codec import CallParameters, Copybook, RecordCodec, RecordError, Selector
from .codepages import ENCODINGS, DataEncoding
from .parser import CopybookError, Field

__all__ = ["CallParameters", "Copybook", "CopybookError", "DataEncoding", "ENCODINGS", "Field", "RecordCodec",
           "RecordError", "Selector"]
