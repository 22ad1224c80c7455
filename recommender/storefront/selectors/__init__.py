"""Storefront reads: k-NN rankings with filters, exclusions, diversity and stable pages."""
