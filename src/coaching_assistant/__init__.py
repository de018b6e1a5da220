"""Coaching Transcript: offline, speaker-labelled transcripts of coaching conversations."""

__version__ = "0.1.0"
