"""Answers with cited source paragraphs."""
