"""COBOL copybooks: the layout of a record (``parser``) and JSON ↔ record bytes (``codec``)."""

from .codec import CallParameters, Copybook, RecordCodec, RecordError
from .parser import CopybookError, Field

__all__ = ["CallParameters", "Copybook", "CopybookError", "Field", "RecordCodec", "RecordError"]
