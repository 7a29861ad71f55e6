"""Proxy and record modes: the pure cache rules (`policy`), the replies they make
(`verdicts`), single-flight filling, the cache, the upstream client, pacing and
pass-through; `redis/` is the layer shared through Redis.
"""
