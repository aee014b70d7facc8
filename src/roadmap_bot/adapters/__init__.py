"""Thin platform adapters: translate events into core commands and replies into messages."""
