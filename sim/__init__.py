"""Simulated exchange and fake broker servers for paper mode, ``make run`` and tests.

Never imported by ``chalicelib`` (Lambdas do not ship it); see ``sim/README.md``.
"""
