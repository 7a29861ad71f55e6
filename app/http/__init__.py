"""Plain values and helpers every layer shares: the request head read once, the reply
of ready bytes, the record of what was served; ETags, gzip, the canonical query, the
API key's fingerprint, clocks, atomic files. No framework, no pydantic.
"""
