"""The shared layer on Redis: what is kept there (`format`), the link that never
raises (`link`), and `Shared`, the proxy's view of it.
"""
