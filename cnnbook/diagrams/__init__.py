"""Explanatory diagrams drawn by code, so they stay consistent with the models they show
and a test can check what they contain."""
