"""Detectors: one module per rule type, each exposing ``SPEC`` (a ``DetectorSpec``).

The engine finds a detector only through the registry (``crisiswatch.detectors`` entry
points), never through this package, so that a detector of a third-party package is found
exactly like ours. This file imports nothing: importing the detector modules here made them
import each other through their package (an import cycle). Shared code lives in ``base``
(evaluation, context, evidence, parameters) and ``terms`` (crisis-lexicon queries).
"""
