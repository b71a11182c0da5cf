"""Synthetic terminal sessions and the session reports a model should write about them.

`families` names every scenario family (a pytest run, a Docker build, a merge conflict...);
each family is a function of a seeded `random.Random` and the session's `World` that returns
an `Episode`: the commands with their output and exit codes, and what the report says of
them. `session_builder` chains episodes into one transcript (`terminal` renders prompts and
ANSI colours) and makes the record. Nothing reads the clock or the global random state:
the same seed gives the same bytes.
"""
