"""The `ddbtrail` command line (entry point: cli.main:main)."""
