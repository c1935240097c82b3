"""Real local servers the tests talk to over 127.0.0.1 (moto for S3/CloudTrail, LookupEvents)."""
