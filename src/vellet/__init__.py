"""Vellet: a distributed wallet that never loses, creates or double-spends money.

The distribution is one import namespace. Each deployable lives in its own
sub-package (``vellet.bank``, ``vellet.wallet``, ``vellet.notifier``,
``vellet.operator``); shared code sits below them in ``vellet.common``; the
entry points (``vellet.cli``, ``vellet.up``, ``vellet.bench``) sit above them.
Services never import each other: import-linter enforces it.
"""

__version__ = "0.1.0"
