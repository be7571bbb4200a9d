"""Tracker logic: crops, scoring, box updates."""
