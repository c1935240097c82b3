"""The Textual console. Presents what the core computes; never parses CloudTrail."""
