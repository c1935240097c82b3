"""ddbtrail core: event table, query language, views, export, summary.

This package never imports Textual (a test checks it): the console and the CLI only
present what is computed here.
"""
__version__ = "0.1.0"
