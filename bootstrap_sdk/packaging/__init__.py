"""Packaging: self-contained Lambda layers and function zips (tooling, never in a layer)."""
