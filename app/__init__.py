"""leads-proxy: a mock server and caching proxy for the Sondos AI leads API.

Installed as `leads_proxy`; the folders are the architecture (docs/development.md).
"""
