"""Reads of feedback, one module per consumer.

popularity.py is read by the storefront (the starter set, a popularity prior) and
imports nothing of it; report.py reads the storefront's recommendation log for the
staff report. Nothing is re-exported here, so importing popularity never imports
the storefront back.
"""
