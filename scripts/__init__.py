"""Authoring tooling for the series: navigation, headless execution, the static site.

Never imported by the notebooks. Run as modules from the repository root, e.g.
``python -m scripts.nav`` (the Makefile does), so ``from scripts.series import ...`` works.
"""
