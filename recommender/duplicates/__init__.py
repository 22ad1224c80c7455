"""Duplicate listings: detection on upload and in a full scan, review groups, merchandisers' decisions."""
