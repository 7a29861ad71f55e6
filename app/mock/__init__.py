"""Mock mode: the leads listing answered from the fixtures, offline, with filters,
pages, Prefer scenarios, a rate limit and the replay of recordings.
"""
